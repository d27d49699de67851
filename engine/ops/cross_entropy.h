#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// Mean cross-entropy of logits [N, C] against integer labels [N] (i64), over
// the rows whose label is not ignore_index. label_smoothing as in
// torch.nn.functional.cross_entropy. Returns a [1] tensor.
Var cross_entropy(const Var& logits, const Tensor& labels, float label_smoothing = 0.0f,
                  int64_t ignore_index = -100);

}  // namespace mapet::ops
