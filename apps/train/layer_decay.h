// Layer-wise learning-rate decay for fine-tuning a ViT (BEiT; timm's
// param_groups_layer_decay gives the same scales for a global-pool-avg ViT):
// layer 0 is the stem (patch_embed, cls_token, pos_embed), block i is layer
// i + 1, everything after the blocks (fc_norm, norm, head) is layer depth + 1,
// and layer l learns at lr * decay^(depth + 1 - l): the head at the full lr,
// the stem at the smallest.
#pragma once
#include <string>

#include "engine/optim/adamw.h"

namespace mapet::apps::train {

int64_t vit_layer_id(const std::string& param_name, int64_t depth);

// Sets every parameter's lr scale in `opt`; decay 1 changes nothing.
void apply_layer_decay(optim::AdamW& opt, double decay, int64_t depth);

}  // namespace mapet::apps::train
