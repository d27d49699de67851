#include "models/vit.h"

#include <cmath>
#include <cstring>

#include "engine/ops/ops.h"
#include "models/names.h"

namespace mapet::models {

namespace {

// Patch embedding parameters live under patch_embed.proj as in timm; the
// weight is [D, C, p, p] (a convolution) while Linear keeps [D, C*p*p].
class PatchEmbed : public nn::Module {
 public:
  PatchEmbed(int64_t in_chans, int64_t patch, int64_t dim) {
    proj = &register_module("proj", std::make_unique<ConvProj>(in_chans, patch, dim));
  }
  struct ConvProj : nn::Linear {
    ConvProj(int64_t c, int64_t p, int64_t d) : nn::Linear(c * p * p, d) {
      weight.mutable_value() = Tensor::zeros({d, c, p, p});
    }
  };
  ConvProj* proj;
};

}  // namespace

VisionTransformer::VisionTransformer(const VitConfig& c) : config(c) {
  if (c.img_size % c.patch_size != 0)
    throw Error("vit: img_size " + std::to_string(c.img_size) + " is not a multiple of patch " +
                std::to_string(c.patch_size));
  if (c.global_pool != "token" && c.global_pool != "avg")
    throw Error("vit: global_pool must be 'token' or 'avg', got '" + c.global_pool + "'");
  auto& pe = register_module("patch_embed", std::make_unique<PatchEmbed>(c.in_chans, c.patch_size, c.embed_dim));
  patch_proj = pe.proj;
  cls_token = register_parameter("cls_token", Tensor::zeros({1, 1, c.embed_dim}));
  pos_embed = register_parameter("pos_embed", Tensor::zeros({1, c.num_patches() + 1, c.embed_dim}));
  blocks = &register_module("blocks", std::make_unique<nn::ModuleList>());
  for (int64_t i = 0; i < c.depth; ++i) {
    nn::BlockConfig bc;
    bc.dim = c.embed_dim;
    bc.heads = c.num_heads;
    bc.mlp_ratio = c.mlp_ratio;
    bc.qkv_bias = c.qkv_bias;
    bc.drop_path = c.depth > 1 ? c.drop_path_rate * static_cast<float>(i) / static_cast<float>(c.depth - 1) : 0.0f;
    bc.layer_scale_init = c.layer_scale_init;
    blocks->push_back(std::make_unique<nn::Block>(bc));
  }
  if (c.global_pool == "avg")
    fc_norm = &register_module("fc_norm", std::make_unique<nn::LayerNorm>(c.embed_dim));
  else
    norm = &register_module("norm", std::make_unique<nn::LayerNorm>(c.embed_dim));
  if (c.num_classes > 0) head = &register_module("head", std::make_unique<nn::Linear>(c.embed_dim, c.num_classes));
}

void VisionTransformer::init_weights(uint64_t seed) {
  Generator g(seed);
  for (const nn::NamedParam& p : named_parameters()) {
    Tensor& t = p.var.mutable_value();
    const std::string& n = p.name;
    auto ends_with = [&](const char* s) { return n.size() >= strlen(s) && n.compare(n.size() - strlen(s), strlen(s), s) == 0; };
    if (n == "mask_token" || n == "mask_positional_token") {
      g.trunc_normal_(t, 0.02f);
    } else if (n == "cls_token") {
      g.normal_(t, 0.0f, 1e-6f);
    } else if (n == "pos_embed") {
      g.trunc_normal_(t, 0.02f);
    } else if (n.rfind("patch_embed.", 0) == 0) {  // PyTorch's conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
      float bound = 1.0f / std::sqrt(static_cast<float>(config.in_chans * config.patch_size * config.patch_size));
      g.uniform_(t, -bound, bound);
    } else if (ends_with(".weight") && t.dim() == 2) {
      g.trunc_normal_(t, 0.02f);
    } else if (ends_with(".bias") && n.find("norm") == std::string::npos) {
      t.zero_();
    }
  }
}

Var VisionTransformer::forward_tokens(const Var& images, nn::Context& ctx) const {
  const int64_t B = images.size(0);
  if (images.dim() != 4 || images.size(1) != config.in_chans || images.size(2) != config.img_size ||
      images.size(3) != config.img_size)
    throw Error("vit: expected images [B, " + std::to_string(config.in_chans) + ", " + std::to_string(config.img_size) +
                ", " + std::to_string(config.img_size) + "], got " + images.value().str());
  Var x = ops::patch_embed(images, patch_proj->weight, patch_proj->bias, config.patch_size);
  x = ops::concat({ops::expand_batch(cls_token, B), x}, 1);
  x = ops::add(x, pos_embed);
  if (training() && config.drop_rate > 0.0f) x = ops::dropout(x, config.drop_rate, true, *ctx.rng);
  for (size_t i = 0; i < blocks->size(); ++i) x = static_cast<nn::Block&>((*blocks)[i]).forward(x, ctx);
  return x;
}

Var VisionTransformer::forward(const Var& images, nn::Context& ctx) const {
  Var x = forward_tokens(images, ctx);
  Var pooled;
  if (config.global_pool == "avg") {
    pooled = fc_norm->forward(ops::mean(ops::slice(x, 1, 1, x.size(1)), 1));
  } else {
    Var tokens = norm->forward(x);
    pooled = ops::reshape(ops::slice(tokens, 1, 0, 1), {x.size(0), config.embed_dim});
  }
  return head ? head->forward(pooled) : pooled;
}

VitConfig vit_config(const std::string& name) {
  VitConfig c;
  if (name == "vit_standard_tiny_patch16_224") {
    c.embed_dim = 192, c.num_heads = 3;
  } else if (name == "vit_standard_small_patch16_224") {
    c.embed_dim = 384, c.num_heads = 6;
  } else if (name == "vit_standard_base_patch16_224") {
    c.embed_dim = 768, c.num_heads = 12;
  } else {
    throw unknown_model(name, vit_model_names());
  }
  return c;
}

bool is_vit_name(const std::string& name) { return name.rfind("vit_standard_", 0) == 0; }

}  // namespace mapet::models
