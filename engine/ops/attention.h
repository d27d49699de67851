// Plain scaled-dot-product attention: softmax(scale * Q K^T, masked) V, with the
// probabilities materialised ([B, H, Tq, Tk]). It is the ViT's attention and the
// slow, obviously-correct reference that the fused MaPeT kernels are tested against.
#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// q [B, H, Tq, d], k and v [B, H, Tk, d] (views with unit stride in d are used
// as they are). mask: undefined, or u8 [B or 1, H or 1, Tq, Tk], 0 = may not
// attend; a row that may attend to nothing outputs zeros. Returns [B, H, Tq, d].
Var scaled_dot_product_attention(const Var& q, const Var& k, const Var& v, const Tensor& mask = Tensor(),
                                 float scale = -1.0f /* 1/sqrt(d) */);

}  // namespace mapet::ops
