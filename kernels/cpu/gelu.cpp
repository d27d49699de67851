#include "kernels/cpu/gelu.h"

#include "kernels/common/math.h"
#include "kernels/cpu/parallel.h"

namespace mapet::cpu {

void gelu_forward(const float* x, float* y, int64_t n) {
  parallel_blocks(n, [=](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) y[i] = common::gelu(x[i]);
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  parallel_blocks(n, [=](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) dx[i] = dy[i] * common::gelu_grad(x[i]);
  });
}

}  // namespace mapet::cpu
