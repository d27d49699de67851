// The residual step of a pre-norm transformer block in one pass:
//
//   out = x + s[r] * (gamma * y)
//
// gamma: the layer scale (one value per channel, broadcast over tokens; null:
// no layer scale); s[r]: the drop-path scale of sample r (0 or 1/(1-p); null:
// no drop path). Unfused this is three ops and three passes over the
// activations forward (mul, drop_path, add) and four backward; the reference
// for the tests is exactly that composition (engine/ops/residual.cpp).
// x, y, out: [rows][tokens][dim] contiguous, row_len = tokens * dim.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

MAPET_ISA_FUNCTION(void, scaled_residual_forward, (const float* x, const float* y, const float* gamma, const float* row_scale, float* out,
                             int64_t rows, int64_t row_len, int64_t dim),
                   (x, y, gamma, row_scale, out, rows, row_len, dim))

// dy = s[r] * gamma * dout, and where dgamma is not null
// dgamma[c] = sum over rows and tokens of s[r] * dout * y (fixed-block
// reduction: the same bits for any thread count).
MAPET_ISA_FUNCTION(void, scaled_residual_backward, (const float* dout, const float* y, const float* gamma, const float* row_scale,
                              float* dy, float* dgamma, int64_t rows, int64_t row_len, int64_t dim),
                   (dout, y, gamma, row_scale, dy, dgamma, rows, row_len, dim))

}  // namespace mapet::cpu
