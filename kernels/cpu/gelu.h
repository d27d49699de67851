// GELU (erf form) forward and backward; the math is kernels/common/math.h.
#pragma once
#include <cstdint>

namespace mapet::cpu {

void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n);  // dx = dy * gelu'(x)

}  // namespace mapet::cpu
