// Dropout and drop-path (stochastic depth). Both are the identity when not
// training or p == 0, and draw from a Generator so a run is reproducible.
#pragma once
#include "engine/autograd.h"
#include "engine/rng.h"

namespace mapet::ops {

Var dropout(const Var& x, float p, bool training, Generator& gen);
// Zeroes whole samples (dim 0) of a residual branch with probability p, scales the rest by 1/(1-p).
Var drop_path(const Var& x, float p, bool training, Generator& gen);

}  // namespace mapet::ops
