#include "kernels/cpu/gelu.h"

#include "kernels/common/math.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce.h"

namespace mapet::cpu::MAPET_ISA {

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

void bias_gelu_forward(const float* x, const float* b, float* y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) yr[c] = common::gelu(xr[c] + b[c]);
  }
}

void bias_gelu_backward(const float* x, const float* b, const float* dy, float* dx, float* db, int64_t rows,
                        int64_t cols) {
  float* outs[1] = {db};
  chunked_column_reduce(rows, cols, 1, outs, [&](int64_t r0, int64_t r1, float* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const float *xr = x + r * cols, *dyr = dy + r * cols;
      float* dxr = dx + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) {
        dxr[c] = dyr[c] * common::gelu_grad(xr[c] + b[c]);
        acc[c] += dxr[c];
      }
    }
  });
}

}  // namespace mapet::cpu::MAPET_ISA
