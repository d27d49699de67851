#include "kernels/cpu/residual.h"

#include "kernels/cpu/reduce.h"

namespace mapet::cpu::MAPET_ISA {

namespace {

// One token's channels: the vector loop is the same for every token, so each
// element is computed the same way (FMA contraction included) whatever the split.
inline void forward_line(const float* x, const float* y, const float* gamma, float s, float* out, int64_t dim) {
  if (gamma) {
#pragma omp simd
    for (int64_t c = 0; c < dim; ++c) out[c] = x[c] + s * (gamma[c] * y[c]);
  } else {
#pragma omp simd
    for (int64_t c = 0; c < dim; ++c) out[c] = x[c] + s * y[c];
  }
}

inline void backward_line(const float* dout, const float* gamma, float s, float* dy, int64_t dim) {
  if (gamma) {
#pragma omp simd
    for (int64_t c = 0; c < dim; ++c) dy[c] = s * (gamma[c] * dout[c]);
  } else {
#pragma omp simd
    for (int64_t c = 0; c < dim; ++c) dy[c] = s * dout[c];
  }
}

}  // namespace

void scaled_residual_forward(const float* x, const float* y, const float* gamma, const float* row_scale, float* out,
                             int64_t rows, int64_t row_len, int64_t dim) {
  const int64_t tokens = row_len / dim, lines = rows * tokens;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < lines; ++i) {
    const float s = row_scale ? row_scale[i / tokens] : 1.0f;
    forward_line(x + i * dim, y + i * dim, gamma, s, out + i * dim, dim);
  }
}

void scaled_residual_backward(const float* dout, const float* y, const float* gamma, const float* row_scale,
                              float* dy, float* dgamma, int64_t rows, int64_t row_len, int64_t dim) {
  const int64_t tokens = row_len / dim, lines = rows * tokens;
  auto scale_of = [&](int64_t line) { return row_scale ? row_scale[line / tokens] : 1.0f; };
  if (!dgamma) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < lines; ++i) backward_line(dout + i * dim, gamma, scale_of(i), dy + i * dim, dim);
    return;
  }
  // dy and the partial sums of dgamma in the same pass over dout and y.
  float* outs[1] = {dgamma};
  chunked_column_reduce(lines, dim, 1, outs, [&](int64_t i0, int64_t i1, float* acc) {
    for (int64_t i = i0; i < i1; ++i) {
      const float s = scale_of(i);
      const float *d = dout + i * dim, *yi = y + i * dim;
      backward_line(d, gamma, s, dy + i * dim, dim);
      if (s == 0.0f) continue;  // a dropped sample adds nothing
#pragma omp simd
      for (int64_t c = 0; c < dim; ++c) acc[c] += s * (d[c] * yi[c]);
    }
  });
}

}  // namespace mapet::cpu::MAPET_ISA
