// LayerNorm over the last dimension: y = (x - mean) * rstd * gamma + beta.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

// Saves mean and rstd (one per row) for the backward.
MAPET_ISA_FUNCTION(void, layernorm_forward, (const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t dim, float eps),
                   (x, gamma, beta, y, mean, rstd, rows, dim, eps))

// dx is overwritten; dgamma and dbeta are overwritten with this call's sums.
MAPET_ISA_FUNCTION(void, layernorm_backward, (const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim),
                   (dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, dim))

}  // namespace mapet::cpu
