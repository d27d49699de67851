// x + drop_path(gamma * y): the residual step of a pre-norm transformer block
// (timm's `x + drop_path(ls(y))`), fused into one op so that the activations
// are read once forward and once backward (kernels/cpu/residual.h).
#pragma once
#include "engine/autograd.h"
#include "engine/rng.h"

namespace mapet::ops {

// x, y: [B, ..., D] of the same shape; gamma: [D] or undefined (no layer
// scale); drop_path: the probability of dropping a whole sample (dim 0) of the
// branch, applied when > 0 (needs gen, and draws from it as ops::drop_path does:
// the same masks for the same generator state).
Var scaled_residual(const Var& x, const Var& y, const Var& gamma, float drop_path, Generator* gen);

}  // namespace mapet::ops
