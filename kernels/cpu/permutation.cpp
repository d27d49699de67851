#include "kernels/cpu/permutation.h"

#include <cstring>

#include "kernels/common/permutation.h"

namespace mapet::cpu {

void mapet_sequence_gather(const float* x, const float* pos_embed, const float* mask_token, const int64_t* perm,
                           float* seq, int64_t B, int64_t T, int64_t L, int64_t D, int streams) {
  const common::SequenceLayout lay{T, L, streams};
  const int64_t rows = lay.rows();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t* pb = perm + b * (T - 1);
      float* out = seq + (b * rows + i) * D;
      if (lay.is_real(i)) {
        std::memcpy(out, x + (b * T + common::token_at_rank(pb, i)) * D, static_cast<size_t>(D) * sizeof(float));
      } else {
        const float* pe = pos_embed + lay.masked_token(pb, lay.mask_index(i)) * D;
        for (int64_t k = 0; k < D; ++k) out[k] = pe[k] + mask_token[k];
      }
    }
}

void mapet_sequence_scatter(const float* dseq, const int64_t* perm, float* dx, float* dmask_pos, int64_t B, int64_t T,
                            int64_t L, int64_t D, int streams) {
  const common::SequenceLayout lay{T, L, streams};
  const int64_t rows = lay.rows(), M = lay.M();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < T; ++r) {  // every token once: by its rank
      const int64_t t = common::token_at_rank(perm + b * (T - 1), r);
      const float* g = dseq + b * rows * D;
      std::memcpy(dx + (b * T + t) * D, g + r * D, static_cast<size_t>(D) * sizeof(float));
      float* dm = dmask_pos + (b * T + t) * D;
      if (r < L) {
        std::memset(dm, 0, static_cast<size_t>(D) * sizeof(float));
        continue;
      }
      const float* first = g + (T + (r - L)) * D;  // stream 0's mask row for rank r
      for (int64_t k = 0; k < D; ++k) {
        float s = first[k];
        for (int st = 1; st < streams; ++st) s += first[st * M * D + k];
        dm[k] = s;
      }
    }
}

}  // namespace mapet::cpu
