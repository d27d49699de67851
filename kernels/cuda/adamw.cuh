// Fused AdamW update on the GPU: the twin of kernels/cpu/adamw.h (device
// pointers; the stream last, null: the default stream). The math is
// kernels/common/adamw.h, as on the CPU.
#pragma once
#include <cstdint>

#include "kernels/common/adamw.h"

namespace mapet::cuda {

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                void* stream = nullptr);

}  // namespace mapet::cuda
