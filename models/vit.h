// Vision Transformer classifier, parameter for parameter as timm's
// VisionTransformer (with the q / kv attention split of DESIGN.md).
#pragma once
#include <string>

#include "engine/nn/layers.h"

namespace mapet::models {

struct VitConfig {
  int64_t img_size = 224, patch_size = 16, in_chans = 3;
  int64_t num_classes = 1000;
  int64_t embed_dim = 384, depth = 12, num_heads = 6;
  float mlp_ratio = 4.0f;
  bool qkv_bias = true;
  float drop_rate = 0.0f;       // after pos_embed
  float drop_path_rate = 0.0f;  // stochastic depth, linearly increasing over blocks
  float layer_scale_init = 0.0f;
  std::string global_pool = "token";  // "token" (norm, CLS) or "avg" (mean of patch tokens, fc_norm)

  int64_t grid() const { return img_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
};

class VisionTransformer : public nn::Module {
 public:
  explicit VisionTransformer(const VitConfig& c);

  // images [B, C, H, W] (normalised) -> logits [B, num_classes] (or pooled features when num_classes = 0).
  Var forward(const Var& images, nn::Context& ctx) const;
  // [B, 1 + P, D] after the last block (before the final norm).
  Var forward_tokens(const Var& images, nn::Context& ctx) const;
  // timm's init: trunc_normal(.02) linears and pos_embed, cls_token normal(1e-6).
  void init_weights(uint64_t seed);

  VitConfig config;
  Var cls_token, pos_embed;
  nn::Linear* patch_proj = nullptr;  // registered as patch_embed.proj
  nn::ModuleList* blocks = nullptr;
  nn::LayerNorm* norm = nullptr;     // global_pool == "token"
  nn::LayerNorm* fc_norm = nullptr;  // global_pool == "avg"
  nn::Linear* head = nullptr;
};

// Named configurations: vit_standard_{tiny,small,base}_patch16_224.
VitConfig vit_config(const std::string& name);
bool is_vit_name(const std::string& name);

}  // namespace mapet::models
