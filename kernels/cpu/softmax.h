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

// Softmax in place over each row of x [B, H, Tq, Tk] (attention scores) where
// mask (u8 [mask_b, mask_h, Tq, Tk], mask_b 1 or B, mask_h 1 or H; null: none)
// == 0 blocks a column. A row with every column blocked gives all zeros.
MAPET_ISA_FUNCTION(void, masked_softmax_inplace, (float* x, const uint8_t* mask, int64_t B, int64_t H, int64_t Tq,
                                                  int64_t Tk, int64_t mask_b, int64_t mask_h),
                   (x, mask, B, H, Tq, Tk, mask_b, mask_h))

}  // namespace mapet::cpu
