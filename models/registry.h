// Model names -> models. The one place an app turns --model into a network.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "models/vit.h"

namespace mapet::models {

struct ModelOptions {
  int64_t num_classes = -1;      // -1: the config's default
  int64_t img_size = -1;         // -1: the config's default
  int64_t patch_size = -1;
  int64_t in_chans = -1;
  float drop_path_rate = -1.0f;  // -1: the config's default
  std::string global_pool;       // "": the config's default
  int64_t depth = -1, embed_dim = -1, num_heads = -1;  // -1: the config's (tiny test models override them)
  float layer_scale_init = -1.0f;                      // -1: the config's; > 0 adds blocks.N.ls{1,2}.gamma; 0: none
};

std::unique_ptr<VisionTransformer> create_vit(const std::string& name, const ModelOptions& o = {});
// The options that are set (not -1 / "") written over `c`.
void apply_options(const ModelOptions& o, VitConfig& c);
std::vector<std::string> model_names();

// The architecture that weights (timm / DESIGN.md names) imply, for each option
// left open: num_classes (head.weight), patch_size and in_chans
// (patch_embed.proj.weight), embed_dim, depth (the blocks.N present), layer
// scale (blocks.0.ls1.gamma: on, with the weights' gammas; absent: off) and the
// global pool (fc_norm without norm: avg; norm: token). Options already set win,
// and a disagreement is then reported by loading, naming the tensor. num_heads
// is not in the weights: it stays the named model's. `taken` (if given) gets the
// values taken from the weights, as "what (which tensor), ...".
ModelOptions options_from_weights(const io::TensorMap& w, ModelOptions o, std::string* taken = nullptr);

}  // namespace mapet::models
