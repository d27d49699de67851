// Ops that move data without arithmetic. reshape/transpose/permute/slice return
// views when they can; their backward moves the gradient back.
#pragma once
#include <vector>

#include "engine/autograd.h"

namespace mapet::ops {

Var reshape(const Var& x, const Shape& shape);  // copies only when x is not contiguous
Var transpose(const Var& x, int64_t a, int64_t b);  // a view
Var permute(const Var& x, const std::vector<int64_t>& dims);  // a view
Var contiguous(const Var& x);
Var slice(const Var& x, int64_t dim, int64_t start, int64_t end);  // a view
Var concat(const std::vector<Var>& xs, int64_t dim);
// y = x.index_select(dim, index): the rows of x along dim named by index (i64 [n]).
Var index_select(const Var& x, int64_t dim, const Tensor& index);
// y[b, i, ...] = x[b, index[b, i], ...] along dim 1 (per-sample token gather), index i64 [B, n].
Var gather_tokens(const Var& x, const Tensor& index);
// x[..., :] repeated: [1, ...] -> [n, ...] along dim 0 (e.g. cls_token for a batch).
Var expand_batch(const Var& x, int64_t n);

}  // namespace mapet::ops
