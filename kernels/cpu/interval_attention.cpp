// Fused interval attention on the CPU: FlashAttention's forward and backward
// (online softmax over K/V tiles; the backward recomputes P from the saved
// log-sum-exp) for the two-interval MaPeT mask. The reference it is tested
// against is ops::interval_attention_reference (dense mask, materialised
// probabilities); read them side by side.
//
// Work is split into (b, h) pairs (the forward also splits rows when there
// are fewer pairs than threads); a pair's backward is done by one thread from
// start to end. Inside a pair:
//   - K and V are copied once into packed, zero-padded layouts (K transposed
//     for Q K^T, K and V by rows for P V and dS K, V transposed for dO V^T),
//     whose key columns are [real keys | zeros | zeros | mask keys] (KeyLayout):
//     every tile lies inside one segment and starts on a 16-column boundary.
//   - Query rows go in blocks (kFwdBlockRows, kBwdBlockRows); for each block
//     only the key tiles that some row of the block may see are visited
//     (block_key_ranges), and the per-key mask is applied inside those tiles.
//   - Every tile product is one small GEMM, C (+)= A B, built from one
//     register-blocked micro-kernel (6 rows x 64 columns of accumulators on
//     AVX-512, 6 x 16 on AVX2: tile_gemm.h): FMA on f32, or under --amp vdpbf16ps on bf16 pairs
//     (F32Products and Bf16Products, interval_attention_products.h: the same
//     products, packed to suit each).
//   - The per-tile softmax (softmax_tile; probs_tile in the backward) works on
//     whole 16-lane vectors (on AVX2 as pairs of 8-lane registers) with an exp
//     (exp16; exp8 on AVX2) that gives common::fast_exp's values bit for bit, skips the mask on tiles a row sees whole, and keeps
//     the rows independent so that their exps overlap.
// The products are near the machine's FMA peak; what is left beyond them is
// mostly first reads of Q, K, V, O and dO from memory (prefetched where the
// access is not a plain stream) and the softmax.
#include "kernels/cpu/interval_attention.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "kernels/common/interval_attention.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/interval_attention_products.h"

namespace mapet::cpu::MAPET_ISA {

namespace {

// ---------------------------------------------------------------------------
// Visible tiles, per-thread scratch, and the softmax of a tile.

// Calls f(col0, ncols, in_mask_segment, local0) for each tile of packed
// columns that a block with key ranges u may see; local0 is the segment-local
// index of the tile's first key (negative on the mask segment's padding).
// ncols is a multiple of 16 and at most kTileCols.
template <class F>
void for_each_visible_tile(const KeyLayout& kl, common::KeyRanges u, F&& f) {
  const int64_t real_end = round_up16(u.real_end);
  for (int64_t c0 = 0; c0 < real_end; c0 += kTileCols) f(c0, std::min(kTileCols, real_end - c0), false, c0);
  if (u.mask_start >= kl.num_mask) return;
  const int64_t seg_end = kl.cols - kl.mask_seg0;  // in columns from mask_seg0
  for (int64_t c0 = (u.mask_start + kl.mask_pad) / 16 * 16; c0 < seg_end; c0 += kTileCols)
    f(kl.mask_seg0 + c0, std::min(kTileCols, seg_end - c0), true, c0 - kl.mask_pad);
}

// One growing, 64-byte aligned buffer per thread, kept between calls: touching
// fresh pages costs more than the attention of a small block.
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  float* get(size_t count) {
    if (count > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64));
      if (!p) throw std::bad_alloc();
      n = count;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
thread_local Scratch t_scratch;

// exp of 16 lanes: common::fast_exp lane by lane (the same values), written
// out so that a row's tile stays in registers between the softmax steps.
inline f32x16 exp16(f32x16 x) {
#ifdef __AVX512F__
  // (The maskz forms only because GCC 12 warns about the plain ones' undefined source.)
  const __m512 xc = (__m512)(x < -87.3f ? f32x16{} - 87.3f : (x > 88.7f ? f32x16{} + 88.7f : x));
  const __m512 n = _mm512_maskz_roundscale_ps(
      0xffff, _mm512_fmadd_ps(xc, _mm512_set1_ps(common::kLog2e), _mm512_set1_ps(0.5f)),
      _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  // p * 2^n, and 0 where x < -87.3: vscalefps is exact here (n in [-126, 128)),
  // as the multiply by the power of two built from n's bits in fast_exp.
  return (f32x16)_mm512_maskz_scalef_ps(_mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(-87.3f), _CMP_NLT_UQ), p, n);
#else
  f32x16 y;
  for (int i = 0; i < kLanes; ++i) y[i] = common::fast_exp(x[i]);
  return y;
#endif
}

// x * y, kept a rounded product: as a plain multiply GCC would fuse it with the
// subtraction of the row max into one FMA and round differently from the
// shared per-row math (common::fast_exp of a rounded scaled score).
inline f32x16 mul_no_contract(f32x16 x, float y) {
#ifdef __AVX512F__
  return (f32x16)_mm512_maskz_mul_round_ps(0xffff, (__m512)x, _mm512_set1_ps(y), _MM_FROUND_CUR_DIRECTION);
#else
  return x * y;
#endif
}

// Lanes combined pairwise, halves first: v[i] op v[i + 8], then + 4, + 2, + 1.
template <class Op>
inline float horizontal(f32x16 v, Op op) {
  v = op(v, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  v = op(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
  v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
  v = op(v, __builtin_shufflevector(v, v, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
  return v[0];
}
inline float horizontal_max(f32x16 v) {
  return horizontal(v, [](f32x16 a, f32x16 b) { return a > b ? a : b; });
}
inline float horizontal_sum(f32x16 v) {
  return horizontal(v, [](f32x16 a, f32x16 b) { return a + b; });
}

// A row's running sum, as 16 lane-wise partial sums (lane l sums the keys
// l mod 16), and its total: the lanes combined as horizontal_sum does.
#if defined(__AVX2__) && !defined(__AVX512F__)
// AVX2: the 16 lanes as two registers, lanes 0-7 and 8-15, so that the sums
// (and the softmax below) stay in registers: GCC keeps 64-byte vectors on
// the stack here.
struct RowSum {
  __m256 lo, hi;
};
inline float row_sum_total(RowSum s) {
  __m256 v = _mm256_add_ps(s.lo, s.hi);  // v[i] + v[i + 8]
  v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 1));  // + 4
  v = _mm256_add_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));  // + 2
  v = _mm256_add_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));  // + 1
  return _mm256_cvtss_f32(v);
}
#else
using RowSum = f32x16;
inline float row_sum_total(RowSum s) { return horizontal_sum(s); }
#endif

#if defined(__AVX2__) && !defined(__AVX512F__)
// The AVX2 forms of exp16 and of the tiles' softmax steps below, on 8-lane
// registers, with the same values: exp8 is common::fast_exp lane by lane as
// GCC compiles it at this level (each a * b + c one FMA), and the 16-lane
// sums are kept as their two halves.

// x * y rounded, never fused with a following add (GCC contracts the
// intrinsics' plain vector arithmetic; the empty asm hides the product).
inline __m256 mul_rounded(__m256 x, __m256 y) {
  __m256 p = _mm256_mul_ps(x, y);
  __asm__("" : "+x"(p));
  return p;
}

inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.7f);
  const __m256 below = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  // x < -87.3 ? -87.3 : (x > 88.7 ? 88.7 : x), NaN passed through as in fast_exp.
  const __m256 xc = _mm256_blendv_ps(_mm256_blendv_ps(x, hi, _mm256_cmp_ps(x, hi, _CMP_GT_OQ)), lo, below);
  const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(xc, _mm256_set1_ps(common::kLog2e), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723e-6f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^n from its bits, as fast_exp (n in [-126, 128]), and 0 where x < -87.3.
  const __m256 scale =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(below, _mm256_mul_ps(p, scale));
}

// Lanes of keys local0 + [0, 8) that a row with interval iv sees, as a mask.
inline __m256 visible8(int local0, common::KeyInterval iv) {
  const __m256i j = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(local0));
  const __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(iv.begin - 1)),
                                      _mm256_cmpgt_epi32(_mm256_set1_epi32(iv.end), j));
  return _mm256_castsi256_ps(in);
}

inline float max8(__m256 v) {
  v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 1));
  v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm256_cvtss_f32(v);
}
#endif

// The online-softmax step of a forward tile, in place: the raw scores
// s[r][0, 16 NV) (row stride kTileCols) of keys with segment-local indices
// local0.. become P = exp(scale s - max), 0 where hidden (row r sees iv[r]).
// Each row's st and lane-wise partial sums are updated, and its output so far
// (acc, [n][dp]) rescaled. Two passes over the tile, each a loop over rows
// with no dependency between them, so that out-of-order execution overlaps
// the rows' exps: the scalar online-softmax step between them (max, branches)
// would otherwise stall each row. A tile that a row sees whole (most of them)
// skips the mask; the rescale is done even where its factor is 1 (exact), a
// branch per row and tile costs more.
#if defined(__AVX2__) && !defined(__AVX512F__)
template <int NV>
void softmax_tile(float* s, int64_t n, int local0, const common::KeyInterval* iv, float scale,
                  common::OnlineSoftmax* st, RowSum* sums, float* acc, int64_t dp) {
  constexpr int H = 2 * NV;  // 8-lane halves
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff()), vscale = _mm256_set1_ps(scale);
  float shift[kFwdBlockRows], alpha[kFwdBlockRows];
  for (int64_t r = 0; r < n; ++r) {
    float* sr = s + r * kTileCols;
    const bool whole = iv[r].begin <= local0 && local0 + NV * kLanes <= iv[r].end;
    __m256 vmax = neg_inf;
#pragma GCC unroll 8
    for (int h = 0; h < H; ++h) {
      __m256 x = mul_rounded(_mm256_loadu_ps(sr + h * 8), vscale);
      if (!whole) x = _mm256_blendv_ps(neg_inf, x, visible8(local0 + h * 8, iv[r]));
      _mm256_storeu_ps(sr + h * 8, x);
      vmax = _mm256_max_ps(vmax, x);
    }
    alpha[r] = common::online_softmax_rescale(st[r], max8(vmax));
    shift[r] = common::online_softmax_shift(st[r]);
  }
  for (int64_t r = 0; r < n; ++r) {
    float* sr = s + r * kTileCols;
    const __m256 vshift = _mm256_set1_ps(shift[r]), valpha = _mm256_set1_ps(alpha[r]);
    __m256 sum_lo = _mm256_setzero_ps(), sum_hi = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(sr + v * kLanes), vshift));
      const __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(sr + v * kLanes + 8), vshift));
      _mm256_storeu_ps(sr + v * kLanes, e0);
      _mm256_storeu_ps(sr + v * kLanes + 8, e1);
      sum_lo = _mm256_add_ps(sum_lo, e0);
      sum_hi = _mm256_add_ps(sum_hi, e1);
    }
    sums[r].lo = _mm256_add_ps(mul_rounded(sums[r].lo, valpha), sum_lo);
    sums[r].hi = _mm256_add_ps(mul_rounded(sums[r].hi, valpha), sum_hi);
    for (int64_t c = 0; c < dp; c += 8)
      _mm256_storeu_ps(acc + r * dp + c, _mm256_mul_ps(_mm256_loadu_ps(acc + r * dp + c), valpha));
  }
}
#else
template <int NV>
void softmax_tile(float* s, int64_t n, int local0, const common::KeyInterval* iv, float scale,
                  common::OnlineSoftmax* st, RowSum* sums, float* acc, int64_t dp) {
  typedef int i32x16 __attribute__((vector_size(64)));
  const float neg_inf = -__builtin_inff();
  float shift[kFwdBlockRows], alpha[kFwdBlockRows];
  for (int64_t r = 0; r < n; ++r) {
    float* sr = s + r * kTileCols;
    const bool whole = iv[r].begin <= local0 && local0 + NV * kLanes <= iv[r].end;
    f32x16 vmax = f32x16{} + neg_inf;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      f32x16 x = mul_no_contract(load16(sr + v * kLanes), scale);
      if (!whole) {
        const i32x16 j = i32x16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} + (local0 + v * kLanes);
        x = (j >= iv[r].begin && j < iv[r].end) ? x : f32x16{} + neg_inf;
      }
      store16(sr + v * kLanes, x);
      vmax = vmax > x ? vmax : x;
    }
    alpha[r] = common::online_softmax_rescale(st[r], horizontal_max(vmax));
    shift[r] = common::online_softmax_shift(st[r]);
  }
  for (int64_t r = 0; r < n; ++r) {
    float* sr = s + r * kTileCols;
    f32x16 tile_sum{};
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const f32x16 e = exp16(load16(sr + v * kLanes) - shift[r]);
      store16(sr + v * kLanes, e);
      tile_sum += e;
    }
    // Rescaled with a rounded product, then the tile added: as the
    // per-element code this replaced, so the sums are bit for bit the same.
    sums[r] = mul_no_contract(sums[r], alpha[r]) + tile_sum;
    for (int64_t c = 0; c < dp; c += kLanes)
      store16(acc + r * dp + c, mul_no_contract(load16(acc + r * dp + c), alpha[r]));
  }
}
#endif
using SoftmaxTile = void (*)(float*, int64_t, int, const common::KeyInterval*, float, common::OnlineSoftmax*, RowSum*,
                             float*, int64_t);
constexpr SoftmaxTile kSoftmaxTiles[kMicroVectors] = {&softmax_tile<1>, &softmax_tile<2>, &softmax_tile<3>,
                                                      &softmax_tile<4>};


// Backward, in place: raw scores s[r][0, 16 NV) (row stride kTileCols) of keys
// with segment-local indices local0.. become P = exp(scale s - lse[r]) where
// row r sees the key (iv[r]), else 0. As softmax_tile: exp16, and no mask on
// a tile that the row sees whole.
#if defined(__AVX2__) && !defined(__AVX512F__)
template <int NV>
void probs_tile(float* s, int64_t n, int local0, const common::KeyInterval* iv, float scale, const float* lse) {
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t r = 0; r < n; ++r) {
    float* sr = s + r * kTileCols;
    const bool whole = iv[r].begin <= local0 && local0 + NV * kLanes <= iv[r].end;
    const __m256 vlse = _mm256_set1_ps(lse[r]);
#pragma GCC unroll 8
    for (int h = 0; h < 2 * NV; ++h) {
      // scale s - lse as one FMA, as the compiler contracts common::attention_prob.
      __m256 p = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(sr + h * 8), vscale, vlse));
      if (!whole) p = _mm256_and_ps(p, visible8(local0 + h * 8, iv[r]));
      _mm256_storeu_ps(sr + h * 8, p);
    }
  }
}
#else
template <int NV>
void probs_tile(float* s, int64_t n, int local0, const common::KeyInterval* iv, float scale, const float* lse) {
  typedef int i32x16 __attribute__((vector_size(64)));
  for (int64_t r = 0; r < n; ++r) {
    float* sr = s + r * kTileCols;
    const bool whole = iv[r].begin <= local0 && local0 + NV * kLanes <= iv[r].end;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      // scale s - lse as one FMA, as the compiler contracts common::attention_prob.
      f32x16 p = exp16(load16(sr + v * kLanes) * scale - lse[r]);
      if (!whole) {
        const i32x16 j = i32x16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} + (local0 + v * kLanes);
        p = (j >= iv[r].begin && j < iv[r].end) ? p : f32x16{};
      }
      store16(sr + v * kLanes, p);
    }
  }
}
#endif
using ProbsTile = void (*)(float*, int64_t, int, const common::KeyInterval*, float, const float*);
constexpr ProbsTile kProbsTiles[kMicroVectors] = {&probs_tile<1>, &probs_tile<2>, &probs_tile<3>, &probs_tile<4>};

// Backward: dp[j] becomes dS = scale p (dp - D) (in place).
inline void score_grad_row(const float* p, float* dp, int ncols, float row_d, float scale) {
#pragma omp simd
  for (int j = 0; j < ncols; ++j) dp[j] = common::attention_score_grad(p[j], dp[j], row_d, scale);
}

// ---------------------------------------------------------------------------
// Forward for one (b, h) and query rows [row_begin, row_end).

template <class Products>
void forward_rows(const IntervalAttentionShape& s, const KeyLayout& kl, Products& prod, const float* q, int64_t ldq,
                  int64_t dp, int64_t row_begin, int64_t row_end, float* scores, float* acc, float* out, int64_t ldo,
                  float* lse) {
  const int num_real = static_cast<int>(kl.num_real), num_mask = static_cast<int>(kl.num_mask);
  common::OnlineSoftmax st[kFwdBlockRows];
  RowSum sums[kFwdBlockRows];  // running sums, as lane-wise partial sums
  for (int64_t i0 = row_begin; i0 < row_end; i0 += kFwdBlockRows) {
    const int64_t n = std::min(kFwdBlockRows, row_end - i0);
    const int* re = s.real_end + i0;
    const int* ms = s.mask_start + i0;
    const common::KeyRanges u = common::block_key_ranges(re, ms, static_cast<int>(n), num_real, num_mask);
    std::fill(acc, acc + n * dp, 0.0f);
    for (int64_t r = 0; r < n; ++r) st[r] = common::OnlineSoftmax{}, sums[r] = RowSum{};
    prod.set_block(q + i0 * ldq, ldq, nullptr, 0, n);
    prefetch_rows(q + (i0 + n) * ldq, ldq, std::min(kFwdBlockRows, row_end - i0 - n), s.d);

    for_each_visible_tile(kl, u, [&](int64_t col0, int64_t ncols, bool mask_segment, int64_t local0) {
      // S = Q K^T for the block's rows and this tile (raw dot products).
      prod.scores(n, col0, ncols, scores);
      // Online softmax per row: P = exp(scale S - max), rescale what came before.
      common::KeyInterval iv[kFwdBlockRows];
      for (int64_t r = 0; r < n; ++r) iv[r] = common::row_key_interval(mask_segment, re[r], ms[r], num_real, num_mask);
      kSoftmaxTiles[ncols / kLanes - 1](scores, n, static_cast<int>(local0), iv, s.scale, st, sums, acc, dp);
      // O += P V.
      prod.add_pv(n, col0, ncols, scores, acc);
    });

    for (int64_t r = 0; r < n; ++r) {
      st[r].sum = row_sum_total(sums[r]);
      const float inv = common::online_softmax_inv_sum(st[r]);
      float* o = out + (i0 + r) * ldo;
      const float* ar = acc + r * dp;
#pragma omp simd
      for (int64_t c = 0; c < s.d; ++c) o[c] = ar[c] * inv;
      lse[i0 + r] = common::online_softmax_lse(st[r]);
    }
  }
}

// ---------------------------------------------------------------------------
// Backward for one (b, h).

template <class Products>
void backward_head(const IntervalAttentionShape& s, const KeyLayout& kl, const float* q, int64_t ldq, const float* k,
                   int64_t ldk, const float* v, int64_t ldv, const float* out, int64_t ldo, const float* lse,
                   const float* dout, int64_t ldg, float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv,
                   int64_t lddv) {
  const int64_t d = s.d, dp = round_up16(d), cols = kl.cols;
  const int num_real = static_cast<int>(kl.num_real), num_mask = static_cast<int>(kl.num_mask);
  Carver mem{t_scratch.get(Products::scratch(d, dp, cols, true) +
                           Carver::size({size_t(kBwdBlockRows * dp), size_t(kBwdBlockRows * kTileCols),
                                         size_t(kBwdBlockRows * kTileCols), size_t(s.Tq)}))};
  Products prod(mem, d, dp, kl, true);
  float* dq_pad = mem.take(kBwdBlockRows * dp);
  float* pb = mem.take(kBwdBlockRows * kTileCols);   // P of the current tile
  float* dsb = mem.take(kBwdBlockRows * kTileCols);  // dP, then dS, of the current tile
  float* row_d_all = mem.take(s.Tq);
  // D_i = rowsum(dO * O) for all rows first: one stream through O and dO
  // (read from memory, where the blocks would wait for them), which leaves dO
  // in cache for the blocks.
  for (int64_t r = 0; r < s.Tq; ++r) {
    const float* o = out + r * ldo;
    const float* g = dout + r * ldg;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t c = 0; c < d; ++c) dot += g[c] * o[c];
    row_d_all[r] = dot;
  }
  prod.pack_backward(kl, k, ldk, v, ldv);

  for (int64_t i0 = 0; i0 < s.Tq; i0 += kBwdBlockRows) {
    const int64_t n = std::min(kBwdBlockRows, s.Tq - i0);
    const int* re = s.real_end + i0;
    const int* ms = s.mask_start + i0;
    const float* row_d = row_d_all + i0;
    const float* row_lse = lse + i0;
    const common::KeyRanges u = common::block_key_ranges(re, ms, static_cast<int>(n), num_real, num_mask);
    prod.set_block(q + i0 * ldq, ldq, dout + i0 * ldg, ldg, n);
    prefetch_rows(q + (i0 + n) * ldq, ldq, std::min(kBwdBlockRows, s.Tq - i0 - n), d);
    // dQ is summed in place when its rows are already dp wide.
    float* dqb = d == dp ? dq + i0 * lddq : dq_pad;
    const int64_t lddqb = d == dp ? lddq : dp;
    for (int64_t r = 0; r < n; ++r) std::fill(dqb + r * lddqb, dqb + r * lddqb + dp, 0.0f);

    for_each_visible_tile(kl, u, [&](int64_t col0, int64_t ncols, bool mask_segment, int64_t local0) {
      // Recompute P = exp(scale Q K^T - lse) (0 where hidden).
      prod.scores(n, col0, ncols, pb);
      common::KeyInterval iv[kBwdBlockRows];
      for (int64_t r = 0; r < n; ++r) iv[r] = common::row_key_interval(mask_segment, re[r], ms[r], num_real, num_mask);
      kProbsTiles[ncols / kLanes - 1](pb, n, static_cast<int>(local0), iv, s.scale, row_lse);
      // dV += P^T dO (rows of dV are this tile's keys).
      prod.add_dv(n, col0, ncols, pb);
      // dP = dO V^T, then dS = scale P (dP - D) in place.
      prod.dprobs(n, col0, ncols, dsb);
      for (int64_t r = 0; r < n; ++r)
        score_grad_row(pb + r * kTileCols, dsb + r * kTileCols, static_cast<int>(ncols), row_d[r], s.scale);
      // dQ += dS K;  dK += dS^T Q.
      prod.add_dq_dk(n, col0, ncols, dsb, dqb, lddqb);
    });

    if (dqb == dq_pad)
      for (int64_t r = 0; r < n; ++r) std::copy(dqb + r * dp, dqb + r * dp + d, dq + (i0 + r) * lddq);
  }

  prod.write_dk_dv(kl, dk, lddk, dv, lddv);
}

// The bf16 products under --amp, where the CPU has them.
// Only the avx512_bf16 level has them, and it runs only on CPUs with native bf16 (isa.h).
bool use_bf16_products() { return kHaveBf16Products && gemm_precision() == GemmPrecision::bf16; }

template <class Products>
void forward_all(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v, OutHeadsView out,
                 float* lse) {
  const KeyLayout kl(s.num_real, s.Tk);
  const int64_t dp = round_up16(s.d);
  // Split each (b, h) into row chunks only when there are too few pairs to keep
  // every thread busy (the packing of K and V is then repeated per chunk).
  const int64_t pairs = s.B * s.H, blocks = (s.Tq + kFwdBlockRows - 1) / kFwdBlockRows;
  const int64_t chunks = std::clamp<int64_t>((4 * omp_get_max_threads() + pairs - 1) / std::max<int64_t>(pairs, 1), 1,
                                             std::max<int64_t>(blocks, 1));
  const int64_t blocks_per_chunk = (blocks + chunks - 1) / chunks;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < pairs * chunks; ++task) {
    const int64_t bh = task / chunks, chunk = task % chunks, b = bh / s.H, h = bh % s.H;
    const int64_t row_begin = std::min(s.Tq, chunk * blocks_per_chunk * kFwdBlockRows);
    const int64_t row_end = std::min(s.Tq, (chunk + 1) * blocks_per_chunk * kFwdBlockRows);
    if (row_begin >= row_end) continue;
    Carver mem{t_scratch.get(Products::scratch(s.d, dp, kl.cols, false) +
                             Carver::size({size_t(kFwdBlockRows * kTileCols), size_t(kFwdBlockRows * dp)}))};
    Products prod(mem, s.d, dp, kl, false);
    float* scores = mem.take(kFwdBlockRows * kTileCols);
    float* acc = mem.take(kFwdBlockRows * dp);
    prod.pack_forward(kl, k.at(b, h), k.row_stride, v.at(b, h), v.row_stride);
    forward_rows(s, kl, prod, q.at(b, h), q.row_stride, dp, row_begin, row_end, scores, acc, out.at(b, h),
                 out.row_stride, lse + bh * s.Tq);
  }
}

template <class Products>
void backward_all(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v, HeadsView out,
                  const float* lse, HeadsView dout, OutHeadsView dq, OutHeadsView dk, OutHeadsView dv) {
  const KeyLayout kl(s.num_real, s.Tk);
  // One (b, h) per task: its dK and dV are summed over row blocks by one thread
  // in a fixed order, so the result is the same for any number of threads.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < s.B * s.H; ++bh) {
    const int64_t b = bh / s.H, h = bh % s.H;
    backward_head<Products>(s, kl, q.at(b, h), q.row_stride, k.at(b, h), k.row_stride, v.at(b, h), v.row_stride,
                            out.at(b, h), out.row_stride, lse + bh * s.Tq, dout.at(b, h), dout.row_stride, dq.at(b, h),
                            dq.row_stride, dk.at(b, h), dk.row_stride, dv.at(b, h), dv.row_stride);
  }
}

}  // namespace

void interval_attention_forward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                OutHeadsView out, float* lse) {
  if (use_bf16_products())
    forward_all<Bf16Products>(s, q, k, v, out, lse);
  else
    forward_all<F32Products>(s, q, k, v, out, lse);
}

void interval_attention_backward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                 HeadsView out, const float* lse, HeadsView dout, OutHeadsView dq, OutHeadsView dk,
                                 OutHeadsView dv) {
  if (use_bf16_products())
    backward_all<Bf16Products>(s, q, k, v, out, lse, dout, dq, dk, dv);
  else
    backward_all<F32Products>(s, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace mapet::cpu::MAPET_ISA
