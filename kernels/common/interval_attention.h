// Per-row math of the fused interval attention (flash-style), shared by the
// CPU kernel (kernels/cpu/interval_attention.cpp) and a CUDA kernel, so both
// compute the same values in the same order.
//
// The mask (kernels/common/interval_mask.h): keys are [real (num_real) | mask
// tokens (num_mask)]; row i sees real keys [0, real_end[i]) and mask keys
// [mask_start[i], num_mask) of the mask segment. A kernel walks the keys in
// tiles that never straddle the two segments, so visibility is one compare
// per key against a segment-local index.
//
// Softmax is computed online (FlashAttention): per row a running max m and a
// running sum l of exp(s - m); when a tile raises the max, what was
// accumulated so far is rescaled by exp(m_old - m_new). The log-sum-exp
// m + log(l) is saved, so the backward recomputes P = exp(s - lse) exactly.
#pragma once
#include <cstdint>

#include "kernels/common/hd.h"
#include "kernels/common/math.h"

namespace mapet::common {

// The arguments of both backends' entry points (kernels/cpu/interval_attention.h,
// kernels/cuda/interval_attention.cuh).

// A [B, H, T, d] tensor with unit stride in d (strides in elements).
struct HeadsView {
  const float* data;
  int64_t batch_stride, head_stride, row_stride;
  MAPET_HOST_DEVICE const float* at(int64_t b, int64_t h) const { return data + b * batch_stride + h * head_stride; }
};

// The same for an output: written in place, in whatever layout the caller
// wants (e.g. heads merged, [B, T, H, d], so that no copy follows).
struct OutHeadsView {
  float* data;
  int64_t batch_stride, head_stride, row_stride;
  MAPET_HOST_DEVICE float* at(int64_t b, int64_t h) const { return data + b * batch_stride + h * head_stride; }
};

struct IntervalAttentionShape {
  int64_t B, H, Tq, Tk, d;
  int64_t num_real;           // keys [0, num_real) are real, [num_real, Tk) mask tokens
  const int32_t* real_end;    // [Tq]
  const int32_t* mask_start;  // [Tq], relative to num_real
  float scale;
};

// The keys a row sees inside one segment, as a segment-local interval [begin, end).
struct KeyInterval {
  int begin, end;
};

MAPET_HD KeyInterval row_key_interval(bool mask_segment, int real_end, int mask_start, int num_real, int num_mask) {
  if (!mask_segment) return {0, real_end < num_real ? real_end : num_real};
  return {mask_start > 0 ? mask_start : 0, num_mask};
}

MAPET_HD bool key_visible(int j, KeyInterval iv) { return j >= iv.begin && j < iv.end; }

// The keys that at least one row of a block of rows may see: real [0, real_end)
// and mask [mask_start, num_mask). Tiles outside these are skipped for the block.
struct KeyRanges {
  int real_end;
  int mask_start;
};

MAPET_HD KeyRanges block_key_ranges(const int* real_end, const int* mask_start, int rows, int num_real, int num_mask) {
  KeyRanges u{0, num_mask};
  for (int r = 0; r < rows; ++r) {
    int re = real_end[r] < num_real ? real_end[r] : num_real;
    int ms = mask_start[r] > 0 ? mask_start[r] : 0;
    u.real_end = re > u.real_end ? re : u.real_end;
    u.mask_start = ms < u.mask_start ? ms : u.mask_start;
  }
  return u;
}

// Running state of one row's online softmax.
struct OnlineSoftmax {
  float max = -__builtin_inff();  // of the scaled scores seen so far (-inf: none yet)
  float sum = 0.0f;               // of exp(score - max)
};

// Takes in a tile whose largest visible scaled score is tile_max (-inf: none).
// Returns the factor by which the row's accumulators (sum and output) must be
// multiplied; st.max becomes the new max. Subtract shift(st) from the tile's
// scores before exp.
MAPET_HD float online_softmax_rescale(OnlineSoftmax& st, float tile_max) {
  float m_new = tile_max > st.max ? tile_max : st.max;
  // exp(-inf - m) = 0 also when nothing was seen before: fast_exp clamps, no NaN.
  float alpha = st.max == m_new ? 1.0f : fast_exp(st.max - m_new);
  st.max = m_new;
  return alpha;
}

// What to subtract from the scores of the current tile: the running max, or 0
// while the row has seen nothing (its scores are all masked, exp gives 0).
MAPET_HD float online_softmax_shift(const OnlineSoftmax& st) { return st.max == -__builtin_inff() ? 0.0f : st.max; }

// log-sum-exp of the row's visible scores; -inf for a row that sees nothing.
MAPET_HD float online_softmax_lse(const OnlineSoftmax& st) {
#if defined(__CUDA_ARCH__)
  return st.sum > 0.0f ? st.max + logf(st.sum) : -__builtin_inff();
#else
  return st.sum > 0.0f ? st.max + __builtin_logf(st.sum) : -__builtin_inff();
#endif
}

// 1 / l, the output normalisation; 0 for a row that sees nothing (output zeros).
MAPET_HD float online_softmax_inv_sum(const OnlineSoftmax& st) { return st.sum > 0.0f ? 1.0f / st.sum : 0.0f; }

// Backward, per score: P = exp(scale * s - lse) and dS = scale * P * (dP - D),
// with D = rowsum(dO * O) = rowsum(P * dP). The scale of S = scale * Q K^T is
// folded into dS, so dQ = dS K and dK = dS^T Q need no further factor.
MAPET_HD float attention_prob(float s, float scale, float lse) { return fast_exp(s * scale - lse); }
MAPET_HD float attention_score_grad(float p, float dp, float row_d, float scale) { return scale * p * (dp - row_d); }

}  // namespace mapet::common
