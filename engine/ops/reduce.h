#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// Mean over one dimension (e.g. the tokens of [B, T, D] -> [B, D] for avg pooling).
Var mean(const Var& x, int64_t dim);
// Sum of all elements -> [1].
Var sum(const Var& x);

}  // namespace mapet::ops
