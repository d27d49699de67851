#include "apps/train/layer_decay.h"

#include <cmath>

namespace mapet::apps::train {

namespace {
bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
}  // namespace

int64_t vit_layer_id(const std::string& name, int64_t depth) {
  if (starts_with(name, "patch_embed.") || name == "cls_token" || name == "pos_embed" || name == "mask_token" ||
      name == "mask_positional_token")
    return 0;
  if (starts_with(name, "blocks.")) {
    const size_t dot = name.find('.', 7);
    return std::stoll(name.substr(7, dot - 7)) + 1;
  }
  return depth + 1;
}

void apply_layer_decay(optim::AdamW& opt, double decay, int64_t depth) {
  for (optim::AdamW::Slot& s : opt.slots())
    s.lr_scale = float(std::pow(decay, double(depth + 1 - vit_layer_id(s.param.name, depth))));
}

}  // namespace mapet::apps::train
