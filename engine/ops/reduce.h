#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// Mean over one dimension (e.g. the tokens of [B, T, D] -> [B, D] for avg pooling).
Var mean(const Var& x, int64_t dim);
// Sum of all elements -> [1].
Var sum(const Var& x);
// The index of the first largest value in each row of x [rows, cols] (NaN
// counts as -inf): i64 [rows] on x's device; no gradient (top-1 predictions).
Tensor argmax_rows(const Tensor& x);

}  // namespace mapet::ops
