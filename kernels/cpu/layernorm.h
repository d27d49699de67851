// LayerNorm over the last dimension: y = (x - mean) * rstd * gamma + beta.
#pragma once
#include <cstdint>

namespace mapet::cpu {

// Saves mean and rstd (one per row) for the backward.
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t dim, float eps);

// dx is overwritten; dgamma and dbeta are overwritten with this call's sums.
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim);

}  // namespace mapet::cpu
