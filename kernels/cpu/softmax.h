// Row softmax (last dimension) and its backward.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

// y = softmax(scale * x) per row of `cols` values. y may alias x.
MAPET_ISA_FUNCTION(void, softmax_forward, (const float* x, float* y, int64_t rows, int64_t cols, float scale = 1.0f),
                   (x, y, rows, cols, scale))

// dx = scale * y * (dy - sum(dy * y)) per row. dx may alias dy.
MAPET_ISA_FUNCTION(void, softmax_backward, (const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale = 1.0f),
                   (y, dy, dx, rows, cols, scale))

// log-sum-exp and the max-shifted pieces, for one row (used by cross-entropy).
MAPET_ISA_FUNCTION(float, row_logsumexp, (const float* x, int64_t cols),
                   (x, cols))

}  // namespace mapet::cpu

namespace mapet::cpu {

// Row softmax where mask[j] == 0 blocks column j (mask may be null). A row with
// every column blocked gives all zeros. In place.
MAPET_ISA_FUNCTION(void, softmax_masked_inplace, (float* x, const uint8_t* mask, int64_t cols),
                   (x, mask, cols))

}  // namespace mapet::cpu
