// CLIP's Vision Transformer image encoder (ViT-B/16 and kin), as a cheaper
// source of patch features than the ResNets: conv patch embedding (no bias),
// class embedding, positional embedding, ln_pre, pre-norm residual attention
// blocks with QuickGELU (x * sigmoid(1.702 x)) MLPs, ln_post, proj.
//
// The blocks are the engine's nn::Block (LayerNorm eps set to CLIP's 1e-5);
// only the MLP activation differs, so the block's layers are run here with
// QuickGELU in place of GELU. OpenAI's names map onto the block's:
//   transformer.resblocks.N.ln_1 -> norm1,  attn.in_proj_{weight,bias} rows
//   [0, D) -> attn.q, [D, 3D) -> attn.kv (k then v),  attn.out_proj -> attn.proj,
//   ln_2 -> norm2,  mlp.c_fc -> mlp.fc1,  mlp.c_proj -> mlp.fc2.
//
// Patch features: every patch token of the last block through ln_post and
// proj (the CLIP embedding space, output_dim wide), as MaskCLIP reads them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/layers.h"
#include "models/clip_weights.h"

namespace mapet::models {

struct ClipVitConfig {
  std::string name = "ViT-B/16";
  int64_t width = 768, layers = 12, heads = 12, patch = 16, image_resolution = 224, output_dim = 512;
  int64_t grid() const { return image_resolution / patch; }
};

// ViT-B/16, ViT-B/32, ViT-L/14 as OpenAI released them.
ClipVitConfig clip_vit_config(const std::string& name);
ClipVitConfig clip_vit_config_from(const ClipWeights& w);

class ClipViT {
 public:
  ClipViT(const ClipVitConfig& c, const ClipWeights& w);
  ~ClipViT();

  // images f32 [B, 3, R, R] (R = image_resolution, CLIP-normalised) -> [B, grid^2, output_dim].
  Tensor features(const Tensor& images) const;
  const ClipVitConfig& config() const { return config_; }

 private:
  ClipVitConfig config_;
  Var conv_weight, conv_bias, class_embedding, positional_embedding, proj;
  std::unique_ptr<nn::LayerNorm> ln_pre, ln_post;
  std::vector<std::unique_ptr<nn::Block>> blocks;
};

// Random weights with OpenAI's names and shapes, for tests and demos.
io::TensorMap random_clip_vit_weights(const ClipVitConfig& c, uint64_t seed);

}  // namespace mapet::models
