// LayerNorm over the last dimension on the GPU: the twins of
// kernels/cpu/layernorm.h (device pointers; the stream last, null: the
// default stream). A failed launch throws std::runtime_error.
#pragma once
#include <cstdint>

namespace mapet::cuda {

// Saves mean and rstd (one per row) for the backward.
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t dim, float eps, void* stream = nullptr);
// dx, dgamma and dbeta are overwritten; dgamma/dbeta are column sums in a
// fixed order (the same bits on every run).
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim, void* stream = nullptr);

}  // namespace mapet::cuda
