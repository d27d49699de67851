// The MaPeT sequence in permutation order (DESIGN.md, "MaPeT"): the index
// math that the CPU and CUDA gather/scatter kernels share.
//
// perm (one sample): the P patches in prediction order; token t = 0 is CLS
// (rank 0), patch p is token p + 1. The sequence has T = P + 1 real rows in
// rank order, then `mask_streams` copies of the M = T - L mask rows
// (mapet: content-stream masks and the query stream; pet: the query stream
// only). Mask row q stands for the predicted token of rank L + q and holds
// m_q = pos_embed[token] + mask_token.
#pragma once
#include <cstdint>

#include "kernels/common/hd.h"
#include "kernels/common/interval_mask.h"

namespace mapet::common {

// The token at rank r (0 <= r < T) of a sample.
MAPET_HD int64_t token_at_rank(const int64_t* perm, int64_t r) { return r == 0 ? 0 : perm[r - 1] + 1; }

// Copies of the mask rows after the real rows: mapet 2, pet 1 (mim has no permuted sequence).
MAPET_HD int mask_streams(Objective obj) { return obj == Objective::mapet ? 2 : 1; }

struct SequenceLayout {
  int64_t T, L, streams;
  MAPET_HD int64_t M() const { return T - L; }
  MAPET_HD int64_t rows() const { return T + streams * (T - L); }
  // Sequence row i: a real row (the token at rank i) when i < T, else mask row q = (i - T) % M.
  MAPET_HD bool is_real(int64_t i) const { return i < T; }
  MAPET_HD int64_t mask_index(int64_t i) const { return (i - T) % (T - L); }
  // The token mask row q stands for (it has rank L + q).
  MAPET_HD int64_t masked_token(const int64_t* perm, int64_t q) const { return token_at_rank(perm, L + q); }
};

}  // namespace mapet::common
