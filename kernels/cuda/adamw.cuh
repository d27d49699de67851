// Fused AdamW update on the GPU: the twin of kernels/cpu/adamw.h (device
// pointers; the stream last, null: the default stream). The math is
// kernels/common/adamw.h, as on the CPU.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/common/adamw.h"

namespace mapet::cuda {

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                void* stream = nullptr);

// One parameter tensor of a whole-model step; each has its own step (lr scale, weight decay).
struct AdamWTensor {
  common::AdamWStep step;
  float* param;
  const float* grad;
  float* m;
  float* v;
  int64_t n;
};

// Every tensor in one launch (the host table is copied to the device first):
// the same values as adamw_step on each tensor in turn.
void adamw_step_many(const AdamWTensor* tensors, size_t count, void* stream = nullptr);

}  // namespace mapet::cuda
