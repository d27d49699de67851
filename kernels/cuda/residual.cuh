// The fused residual step (out = x + s[r] * gamma * y) on the GPU: the twins
// of kernels/cpu/residual.h (device pointers; the stream last, null: the
// default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

void scaled_residual_forward(const float* x, const float* y, const float* gamma, const float* row_scale, float* out,
                             int64_t rows, int64_t row_len, int64_t dim, void* stream = nullptr);
void scaled_residual_backward(const float* dout, const float* y, const float* gamma, const float* row_scale,
                              float* dy, float* dgamma, int64_t rows, int64_t row_len, int64_t dim,
                              void* stream = nullptr);

}  // namespace mapet::cuda
