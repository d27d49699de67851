// The MaPeT sequence gather (tokens into rank order, mask tokens appended)
// and its scatter back to patch order (twins: kernels/cpu/permutation.cpp;
// the index math is kernels/common/permutation.h). Pure data movement and one
// add per element, so the results equal the CPU's bit for bit.
//
// A warp per sequence row (grid-strided), lanes across the D channels,
// float4 where aligned. The scatter goes by rank: every token's dx row and
// dmask_pos row is written exactly once (perm is a permutation), so no
// zero-fill pass and no atomics.
#include "kernels/cuda/dialect.cuh"

#include "kernels/common/permutation.h"
#include "kernels/cuda/permutation.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

using detail::kWarp;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarp;

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(const float* __restrict__ x, const float* __restrict__ pos_embed,
                  const float* __restrict__ mask_token, const int64_t* __restrict__ perm, float* __restrict__ seq,
                  int64_t B, common::SequenceLayout lay, int64_t D) {
  const int lane = threadIdx.x % kWarp;
  const int64_t rows = lay.rows(), total = B * rows, stride = static_cast<int64_t>(gridDim.x) * kWarps;
  const int64_t width = kVec ? D / 4 : D;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; n < total; n += stride) {
    const int64_t b = n / rows, i = n - b * rows;
    const int64_t* pb = perm + b * (lay.T - 1);
    float* out = seq + n * D;
    if (lay.is_real(i)) {
      const float* src = x + (b * lay.T + common::token_at_rank(pb, i)) * D;
      for (int64_t k = lane; k < width; k += kWarp) {
        if constexpr (kVec) reinterpret_cast<float4*>(out)[k] = reinterpret_cast<const float4*>(src)[k];
        else out[k] = src[k];
      }
    } else {
      const float* pe = pos_embed + lay.masked_token(pb, lay.mask_index(i)) * D;
      for (int64_t k = lane; k < width; k += kWarp) {
        if constexpr (kVec) {
          const float4 a = reinterpret_cast<const float4*>(pe)[k], m = reinterpret_cast<const float4*>(mask_token)[k];
          reinterpret_cast<float4*>(out)[k] = float4{a.x + m.x, a.y + m.y, a.z + m.z, a.w + m.w};
        } else {
          out[k] = pe[k] + mask_token[k];
        }
      }
    }
  }
}

// A warp per (sample, rank r < T). streams is 1 or 2 (common::mask_streams).
// (kThreads, 4): with the block size alone ptxas held this to 32 registers and spilled.
template <bool kVec>
__global__ void __launch_bounds__(kThreads, 4)
    scatter_kernel(const float* __restrict__ dseq, const int64_t* __restrict__ perm, float* __restrict__ dx,
                   float* __restrict__ dmask_pos, int64_t B, common::SequenceLayout lay, int64_t D) {
  const int lane = threadIdx.x % kWarp;
  const int64_t T = lay.T, L = lay.L, M = lay.M(), total = B * T, stride = static_cast<int64_t>(gridDim.x) * kWarps;
  const int64_t width = kVec ? D / 4 : D;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; n < total; n += stride) {
    const int64_t b = n / T, r = n - b * T;
    const int64_t t = common::token_at_rank(perm + b * (T - 1), r);
    const float* g = dseq + b * lay.rows() * D;
    const float* real = g + r * D;
    const float* first = g + (T + (r - L)) * D;  // stream 0's mask row for rank r (when r >= L)
    const float* second = lay.streams == 2 ? first + M * D : nullptr;  // mapet's query stream
    float* dxr = dx + (b * T + t) * D;
    float* dm = dmask_pos + (b * T + t) * D;
    for (int64_t k = lane; k < width; k += kWarp) {
      if constexpr (kVec) {
        reinterpret_cast<float4*>(dxr)[k] = reinterpret_cast<const float4*>(real)[k];
        float4 s{0.0f, 0.0f, 0.0f, 0.0f};
        if (r >= L) {
          s = reinterpret_cast<const float4*>(first)[k];
          if (second) {
            const float4 v = reinterpret_cast<const float4*>(second)[k];
            s = float4{s.x + v.x, s.y + v.y, s.z + v.z, s.w + v.w};
          }
        }
        reinterpret_cast<float4*>(dm)[k] = s;
      } else {
        dxr[k] = real[k];
        float s = 0.0f;
        if (r >= L) {
          s = first[k];
          if (second) s += second[k];
        }
        dm[k] = s;
      }
    }
  }
}

}  // namespace

void mapet_sequence_gather(const float* x, const float* pos_embed, const float* mask_token, const int64_t* perm,
                           float* seq, int64_t B, int64_t T, int64_t L, int64_t D, int streams, void* stream) {
  const common::SequenceLayout lay{T, L, streams};
  const int64_t total = B * lay.rows();
  if (total == 0 || D == 0) return;
  const bool vec = D % 4 == 0 && detail::aligned16(x) && detail::aligned16(pos_embed) &&
                   detail::aligned16(mask_token) && detail::aligned16(seq);
  const unsigned grid = detail::grid_for(total, kWarps);
  auto s = static_cast<cudaStream_t>(stream);
  if (vec) MAPET_LAUNCH(gather_kernel<true>, grid, kThreads, 0, s, x, pos_embed, mask_token, perm, seq, B, lay, D);
  else MAPET_LAUNCH(gather_kernel<false>, grid, kThreads, 0, s, x, pos_embed, mask_token, perm, seq, B, lay, D);
}

void mapet_sequence_scatter(const float* dseq, const int64_t* perm, float* dx, float* dmask_pos, int64_t B, int64_t T,
                            int64_t L, int64_t D, int streams, void* stream) {
  const common::SequenceLayout lay{T, L, streams};
  if (B * T == 0 || D == 0) return;
  const bool vec = D % 4 == 0 && detail::aligned16(dseq) && detail::aligned16(dx) && detail::aligned16(dmask_pos);
  const unsigned grid = detail::grid_for(B * T, kWarps);
  auto s = static_cast<cudaStream_t>(stream);
  if (vec) MAPET_LAUNCH(scatter_kernel<true>, grid, kThreads, 0, s, dseq, perm, dx, dmask_pos, B, lay, D);
  else MAPET_LAUNCH(scatter_kernel<false>, grid, kThreads, 0, s, dseq, perm, dx, dmask_pos, B, lay, D);
}

}  // namespace mapet::cuda
