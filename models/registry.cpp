#include "models/registry.h"

#include <algorithm>

#include "models/names.h"

namespace mapet::models {

void apply_options(const ModelOptions& o, VitConfig& c) {
  if (o.num_classes >= 0) c.num_classes = o.num_classes;
  if (o.img_size > 0) c.img_size = o.img_size;
  if (o.patch_size > 0) c.patch_size = o.patch_size;
  if (o.in_chans > 0) c.in_chans = o.in_chans;
  if (o.drop_path_rate >= 0.0f) c.drop_path_rate = o.drop_path_rate;
  if (!o.global_pool.empty()) c.global_pool = o.global_pool;
  if (o.depth > 0) c.depth = o.depth;
  if (o.embed_dim > 0) c.embed_dim = o.embed_dim;
  if (o.num_heads > 0) c.num_heads = o.num_heads;
  if (o.layer_scale_init >= 0.0f) c.layer_scale_init = o.layer_scale_init;
}

std::unique_ptr<VisionTransformer> create_vit(const std::string& name, const ModelOptions& o) {
  VitConfig c = vit_config(name);
  apply_options(o, c);
  return std::make_unique<VisionTransformer>(c);
}

std::vector<std::string> model_names() { return vit_model_names(); }

ModelOptions options_from_weights(const io::TensorMap& w, ModelOptions o, std::string* taken) {
  auto note = [&](const std::string& s) {
    if (taken) *taken += (taken->empty() ? "" : ", ") + s;
  };
  auto has = [&](const std::string& n) { return w.count(n) > 0; };
  if (o.num_classes < 0 && has("head.weight") && w.at("head.weight").dim() == 2) {
    o.num_classes = w.at("head.weight").size(0);
    note(std::to_string(o.num_classes) + " classes (head.weight)");
  }
  if (has("patch_embed.proj.weight") && w.at("patch_embed.proj.weight").dim() == 4) {
    const Tensor& p = w.at("patch_embed.proj.weight");  // [D, C, p, p]
    if (o.embed_dim < 0) o.embed_dim = p.size(0), note("dim " + std::to_string(o.embed_dim) + " (patch_embed.proj.weight)");
    if (o.in_chans < 0) o.in_chans = p.size(1);
    if (o.patch_size < 0 && p.size(2) == p.size(3))
      o.patch_size = p.size(2), note("patch " + std::to_string(o.patch_size) + " (patch_embed.proj.weight)");
  }
  if (o.depth < 0) {
    int64_t depth = 0;
    while (has("blocks." + std::to_string(depth) + ".norm1.weight")) ++depth;
    if (depth > 0) o.depth = depth, note("depth " + std::to_string(depth) + " (blocks.0-" + std::to_string(depth - 1) + ")");
  }
  if (o.layer_scale_init < 0) {
    // Any value > 0 builds the gammas; loading then replaces it with the weights' own.
    o.layer_scale_init = has("blocks.0.ls1.gamma") ? 1.0f : 0.0f;
    note(std::string("layer scale ") + (has("blocks.0.ls1.gamma") ? "on (blocks.0.ls1.gamma)" : "off (no blocks.0.ls1.gamma)"));
  }
  if (o.global_pool.empty()) {
    if (has("fc_norm.weight") && !has("norm.weight"))
      o.global_pool = "avg", note("global pool avg (fc_norm, no norm)");
    else if (has("norm.weight"))
      o.global_pool = "token", note("global pool token (norm)");
  }
  return o;
}

}  // namespace mapet::models
