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
Var interval_attention(const Var& q, const Var& k, const Var& v, const IntervalMask& mask, float scale = -1.0f);

// The same op through the dense mask and the plain attention op (probabilities
// materialised): the obviously-correct reference for tests and benchmarks.
Var interval_attention_reference(const Var& q, const Var& k, const Var& v, const IntervalMask& mask,
                                 float scale = -1.0f);

}  // namespace mapet::ops
