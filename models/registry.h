// Model names -> models. The one place an app turns --model into a network.
#pragma once
#include <memory>
#include <string>
#include <vector>

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
  float layer_scale_init = -1.0f;                      // -1: the config's; > 0 adds blocks.N.ls{1,2}.gamma
};

std::unique_ptr<VisionTransformer> create_vit(const std::string& name, const ModelOptions& o = {});
std::vector<std::string> model_names();

}  // namespace mapet::models
