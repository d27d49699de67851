// The MaPeT sequence in permutation order, on the CPU: what models/mapet.cpp
// builds from ops (gather_tokens of the real tokens by rank, the mask tokens
// pos_embed[p] + mask_token appended once per stream) as two plain kernels,
// the twins of kernels/cuda/permutation. Layout: kernels/common/permutation.h.
// perm: [B][T-1] patch orders (each a permutation of 0..T-2; not checked here).
#pragma once
#include <cstdint>

namespace mapet::cpu {

// seq[b] ([rows][D], rows = T + streams * (T - L)): rows < T are x[b][token at
// rank r]; the rest are pos_embed[token of rank L + q] + mask_token.
// x: [B][T][D] tokens in natural order (CLS first, pos_embed already added).
void mapet_sequence_gather(const float* x, const float* pos_embed, const float* mask_token, const int64_t* perm,
                           float* seq, int64_t B, int64_t T, int64_t L, int64_t D, int streams);

// The backward, back to patch order: dx[b][t] = dseq[b][rank(t)]; and
// dmask_pos[b][t] = the sum over streams of dseq's mask rows for token t
// (zero rows for the context tokens): the gradient that reaches pos_embed[t]
// (and mask_token) through sample b's mask tokens. Summing dmask_pos over b
// gives pos_embed's share, over b and t mask_token's (reduce.h: sum_rows).
void mapet_sequence_scatter(const float* dseq, const int64_t* perm, float* dx, float* dmask_pos, int64_t B, int64_t T,
                            int64_t L, int64_t D, int streams);

}  // namespace mapet::cpu
