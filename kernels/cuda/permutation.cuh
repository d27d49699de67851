// The MaPeT sequence in permutation order on the GPU: the twins of
// kernels/cpu/permutation.h (device pointers; the stream last, null: the
// default stream). Layout and index math: kernels/common/permutation.h.
#pragma once
#include <cstdint>

namespace mapet::cuda {

// Real tokens into rank order with the mask tokens appended (`streams` times).
void mapet_sequence_gather(const float* x, const float* pos_embed, const float* mask_token, const int64_t* perm,
                           float* seq, int64_t B, int64_t T, int64_t L, int64_t D, int streams,
                           void* stream = nullptr);
// The backward, back to patch order: dx, and dmask_pos (per sample, the
// gradient reaching pos_embed through the mask tokens).
void mapet_sequence_scatter(const float* dseq, const int64_t* perm, float* dx, float* dmask_pos, int64_t B, int64_t T,
                            int64_t L, int64_t D, int streams, void* stream = nullptr);

}  // namespace mapet::cuda
