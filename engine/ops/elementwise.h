// Element-wise ops: add, mul, scale, with the broadcasting the ViT needs
// (b's shape is a suffix of a's, e.g. a bias, pos_embed or a layer-scale gamma).
#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

Var add(const Var& a, const Var& b);  // same shape, or b broadcast over a's leading dims
Var mul(const Var& a, const Var& b);  // same shape, or b broadcast over a's leading dims
Var scale(const Var& a, float alpha);

// No autograd: a += b (any strides for b; a contiguous), used by gradient accumulation.
void add_inplace(Tensor& a, const Tensor& b);

// True when b's shape equals the trailing dims of a's shape (leading 1s allowed in b).
bool is_trailing_broadcast(const Shape& a, const Shape& b);

}  // namespace mapet::ops
