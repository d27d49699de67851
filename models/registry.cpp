#include "models/registry.h"

namespace mapet::models {

std::unique_ptr<VisionTransformer> create_vit(const std::string& name, const ModelOptions& o) {
  VitConfig c = vit_config(name);
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
  return std::make_unique<VisionTransformer>(c);
}

std::vector<std::string> model_names() {
  return {"vit_standard_tiny_patch16_224", "vit_standard_small_patch16_224", "vit_standard_base_patch16_224"};
}

}  // namespace mapet::models
