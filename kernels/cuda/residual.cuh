// The fused residual step (out = x + s[r] * gamma * y) on the GPU: the twins
// of kernels/cpu/residual.h (device pointers; the stream last, null: the
// default stream). gamma null: no layer scale; row_scale null: no drop path.
#pragma once
#include <cstdint>

namespace mapet::cuda {

void scaled_residual_forward(const float* x, const float* y, const float* gamma, const float* row_scale, float* out,
                             int64_t rows, int64_t row_len, int64_t dim, void* stream = nullptr);
// dy = s[r] * gamma * dout; where dgamma is not null, dgamma[c] = sum over rows
// and tokens of s[r] * dout * y, in a fixed order (the same bits on every run).
void scaled_residual_backward(const float* dout, const float* y, const float* gamma, const float* row_scale,
                              float* dy, float* dgamma, int64_t rows, int64_t row_len, int64_t dim,
                              void* stream = nullptr);

}  // namespace mapet::cuda
