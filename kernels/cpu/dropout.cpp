#include "kernels/cpu/dropout.h"

#include "kernels/common/philox.h"

namespace mapet::cpu::MAPET_ISA {

void dropout_forward(const float* x, float* y, uint8_t* keep, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float s = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    bool k = common::philox_uniform(seed, offset + static_cast<uint64_t>(i)) >= p;
    keep[i] = k;
    y[i] = k ? x[i] * s : 0.0f;
  }
}

void dropout_backward(const uint8_t* keep, const float* dy, float* dx, int64_t n, float p) {
  const float s = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = keep[i] ? dy[i] * s : 0.0f;
}

void drop_path_forward(const float* x, float* y, float* row_scale, int64_t rows, int64_t row_len, float p,
                       uint64_t seed, uint64_t offset) {
  drop_path_row_scales(row_scale, rows, p, seed, offset);
  row_scale_apply(x, row_scale, y, rows, row_len);
}

void drop_path_row_scales(float* row_scale, int64_t rows, float p, uint64_t seed, uint64_t offset) {
  const float s = 1.0f / (1.0f - p);
  for (int64_t r = 0; r < rows; ++r)
    row_scale[r] = common::philox_uniform(seed, offset + static_cast<uint64_t>(r)) >= p ? s : 0.0f;
}

void row_scale_apply(const float* x, const float* row_scale, float* y, int64_t rows, int64_t row_len) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float s = row_scale[r];
#pragma omp simd
    for (int64_t j = 0; j < row_len; ++j) y[r * row_len + j] = x[r * row_len + j] * s;
  }
}

}  // namespace mapet::cpu::MAPET_ISA
