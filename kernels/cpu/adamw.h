// Fused AdamW update of one parameter tensor (math: kernels/common/adamw.h).
#pragma once
#include <cstdint>

#include "kernels/common/adamw.h"

namespace mapet::cpu {

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n);

}  // namespace mapet::cpu
