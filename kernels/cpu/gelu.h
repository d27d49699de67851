// GELU (erf form) forward and backward; the math is kernels/common/math.h.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

MAPET_ISA_FUNCTION(void, gelu_forward, (const float* x, float* y, int64_t n),
                   (x, y, n))
MAPET_ISA_FUNCTION(void, gelu_backward, (const float* x, const float* dy, float* dx, int64_t n),
                   (x, dy, dx, n))  // dx = dy * gelu'(x)

// y = gelu(x + b), b broadcast over the rows of x ([rows][cols]): a linear
// layer's bias folded into the GELU after it, so that the backward can sum the
// bias gradient in the pass that computes dx instead of reading dx again.
MAPET_ISA_FUNCTION(void, bias_gelu_forward, (const float* x, const float* b, float* y, int64_t rows, int64_t cols),
                   (x, b, y, rows, cols))
// dx = dy * gelu'(x + b); db = column sums of dx (fixed row chunks: the same
// bits for any thread count).
MAPET_ISA_FUNCTION(void, bias_gelu_backward, (const float* x, const float* b, const float* dy, float* dx, float* db, int64_t rows,
                        int64_t cols),
                   (x, b, dy, dx, db, rows, cols))

}  // namespace mapet::cpu
