// Learning-rate schedule and gradient clipping, as timm's train.py uses them.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/nn/module.h"

namespace mapet::optim {

// Linear warm-up from warmup_lr to base_lr over warmup_steps, then cosine from
// base_lr down to min_lr at total_steps (timm's CosineLRScheduler, per step).
struct CosineSchedule {
  float base_lr = 1e-3f, min_lr = 1e-5f, warmup_lr = 1e-6f;
  int64_t warmup_steps = 0, total_steps = 1;
  float lr_at(int64_t step) const;
};

// Scales all gradients so their global L2 norm is at most max_norm (no-op when
// max_norm <= 0). Returns the norm before clipping (computed in double).
double clip_grad_norm(const std::vector<nn::NamedParam>& params, double max_norm);

}  // namespace mapet::optim
