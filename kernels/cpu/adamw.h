// Fused AdamW update of one parameter tensor (math: kernels/common/adamw.h).
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

#include "kernels/common/adamw.h"

namespace mapet::cpu {

MAPET_ISA_FUNCTION(void, adamw_step, (const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n),
                   (s, param, grad, m, v, n))

}  // namespace mapet::cpu
