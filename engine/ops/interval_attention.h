// Attention whose mask is two intervals per row (kernels/common/interval_mask.h):
// row i sees keys [0, real_end[i]) and [num_real + mask_start[i], Tk). This is
// the MaPeT two-stream attention: content and query rows share K and V.
#pragma once
#include <vector>

#include "engine/autograd.h"
#include "kernels/common/interval_mask.h"

namespace mapet::ops {

struct IntervalMask {
  int64_t num_real = 0;             // keys [0, num_real) are real tokens, the rest mask tokens
  std::vector<int32_t> real_end;    // per query row
  std::vector<int32_t> mask_start;  // per query row, relative to num_real
};

// The MaPeT / PeT / MIM mask for T real tokens and L context tokens.
IntervalMask mapet_interval_mask(common::Objective obj, int64_t T, int64_t L);

// The same mask as a dense u8 [1, 1, Tq, Tk] tensor (1 = may attend), for the reference path and tests.
Tensor dense_mask(const IntervalMask& m, int64_t num_keys);

// q [B, H, Tq, d], k and v [B, H, Tk, d] (views with unit stride in d are used
// as they are); Tq must equal the mask's rows. scale < 0: 1/sqrt(d). Fused,
// flash-style CPU kernel (kernels/cpu/interval_attention.h): O(Tq) memory
// besides the output, no Tq x Tk matrix. A row that sees nothing outputs zeros.
// The output is a [B, H, Tq, d] view of a [B, Tq, H, d] buffer, so merging the
// heads after it is free.
Var interval_attention(const Var& q, const Var& k, const Var& v, const IntervalMask& mask, float scale = -1.0f);

// The same attention on the projections as they come out of attn.q and attn.kv:
// q [B, Tq, D], kv [B, Tk, 2D] (keys, then values), D = heads x d; returns
// [B, Tq, D], heads merged. The kernel reads and writes the heads in place, so
// there is no split or merge copy in the forward or the backward.
Var interval_attention_packed(const Var& q, const Var& kv, int64_t heads, const IntervalMask& mask,
                              float scale = -1.0f);

// The same op through the dense mask and the plain attention op (probabilities
// materialised): the obviously-correct reference for tests and benchmarks.
Var interval_attention_reference(const Var& q, const Var& k, const Var& v, const IntervalMask& mask,
                                 float scale = -1.0f);

}  // namespace mapet::ops
