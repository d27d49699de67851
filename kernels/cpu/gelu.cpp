#include "kernels/cpu/gelu.h"

#include "kernels/common/math.h"

namespace mapet::cpu {

void gelu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = common::gelu(x[i]);
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * common::gelu_grad(x[i]);
}

}  // namespace mapet::cpu
