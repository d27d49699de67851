// Dropout and drop-path (stochastic depth): the keep decisions are Philox
// draws at (seed, offset + i) (kernels/common/philox.h), so a run is
// reproducible whatever the thread count or backend.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

// Inverted dropout: y = x * keep / (1 - p), keep drawn with Philox at (seed, offset + i).
MAPET_ISA_FUNCTION(void, dropout_forward, (const float* x, float* y, uint8_t* keep, int64_t n, float p, uint64_t seed, uint64_t offset),
                   (x, y, keep, n, p, seed, offset))
// dx = dy * keep / (1 - p): dropout_forward's backward, from its keep mask.
MAPET_ISA_FUNCTION(void, dropout_backward, (const uint8_t* keep, const float* dy, float* dx, int64_t n, float p),
                   (keep, dy, dx, n, p))
// Drop-path: row r of `rows` is kept with prob 1-p (one draw per row), scaled by 1/(1-p).
MAPET_ISA_FUNCTION(void, drop_path_forward, (const float* x, float* y, float* row_scale, int64_t rows, int64_t row_len, float p,
                       uint64_t seed, uint64_t offset),
                   (x, y, row_scale, rows, row_len, p, seed, offset))
// The per-row scales of drop_path_forward alone: 0 (dropped) or 1/(1-p).
MAPET_ISA_FUNCTION(void, drop_path_row_scales, (float* row_scale, int64_t rows, float p, uint64_t seed, uint64_t offset),
                   (row_scale, rows, p, seed, offset))
MAPET_ISA_FUNCTION(void, row_scale_apply, (const float* x, const float* row_scale, float* y, int64_t rows, int64_t row_len),
                   (x, row_scale, y, rows, row_len))

}  // namespace mapet::cpu
