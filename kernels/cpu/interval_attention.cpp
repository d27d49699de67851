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
//     register-blocked micro-kernel (6 rows x 64 columns of accumulators):
//     FMA on f32, or under --amp vdpbf16ps on bf16 pairs (F32Products and
//     Bf16Products below: the same products, packed to suit each).
//   - The per-tile softmax (softmax_tile; probs_tile in the backward) works on
//     whole 16-lane vectors with an exp (exp16) that gives common::fast_exp's
//     values bit for bit, skips the mask on tiles a row sees whole, and keeps
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
#include <array>
#include <cstdlib>
#include <new>
#include <utility>

#include "kernels/common/interval_attention.h"
#include "kernels/cpu/gemm.h"

namespace mapet::cpu::MAPET_ISA {

namespace {

// ---------------------------------------------------------------------------
// Tile products.

// 16 floats: one AVX-512 register (GCC's vector extension; with -march=native
// on an AVX-512 machine these are zmm registers and a * b + c is one FMA,
// elsewhere GCC splits them into narrower vectors). Unaligned, may alias float.
typedef float f32x16 __attribute__((vector_size(64), aligned(4), may_alias));
constexpr int kLanes = 16;

inline f32x16 load16(const float* p) { return *reinterpret_cast<const f32x16*>(p); }
inline void store16(float* p, f32x16 x) { *reinterpret_cast<f32x16*>(p) = x; }

constexpr int kMicroRows = 6;     // 6 x 4 = 24 accumulators + 4 B vectors fit the 32 vector registers
constexpr int kMicroVectors = 4;  // 64 columns

// C[R x 16 NV] (+)= A[R x K] B[K x 16 NV]. A is read one element at a time
// (broadcast to a vector) at a[r * a_rs + kk * a_ks], so the same kernel takes
// A or A^T; B is row-major with leading dimension ldb.
template <int R, int NV>
void micro_kernel(int64_t K, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb, float* c,
                  int64_t ldc, bool accumulate) {
  f32x16 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? load16(c + r * ldc + v * kLanes) : f32x16{};
  for (int64_t kk = 0; kk < K; ++kk) {
    f32x16 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load16(b + kk * ldb + v * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const float ar = a[r * a_rs + kk * a_ks];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += ar * bv[v];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store16(c + r * ldc + v * kLanes, acc[r][v]);
}

using MicroKernel = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, bool);

template <int R, int... NV>
constexpr auto micro_row(std::integer_sequence<int, NV...>) {
  return std::array<MicroKernel, sizeof...(NV)>{&micro_kernel<R, NV + 1>...};
}
template <int... R>
constexpr auto micro_table(std::integer_sequence<int, R...>) {
  return std::array<std::array<MicroKernel, kMicroVectors>, sizeof...(R)>{
      micro_row<R + 1>(std::make_integer_sequence<int, kMicroVectors>())...};
}
// kMicroKernels[R - 1][NV - 1]: every edge shape of a block.
constexpr auto kMicroKernels = micro_table(std::make_integer_sequence<int, kMicroRows>());

// C[M x N] (+)= A[M x K] B[K x N] for blocks that live in L1/L2; N a multiple
// of 16. Columns outer, so a 64-column panel of B is reused by every row chunk.
void small_gemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kMicroVectors * kLanes) {
    const int nv = static_cast<int>(std::min<int64_t>(kMicroVectors, (N - j) / kLanes));
    for (int64_t i = 0; i < M; i += kMicroRows) {
      const int r = static_cast<int>(std::min<int64_t>(kMicroRows, M - i));
      kMicroKernels[r - 1][nv - 1](K, a + i * a_rs, a_rs, a_ks, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    }
  }
}

// ---------------------------------------------------------------------------
// Packed key layout and per-thread scratch.

constexpr int64_t kTileCols = 64;  // keys per K/V tile
#ifndef MAPET_ATTN_FWD_ROWS
#define MAPET_ATTN_FWD_ROWS 12
#endif
#ifndef MAPET_ATTN_BWD_ROWS
#define MAPET_ATTN_BWD_ROWS 24
#endif
// Query rows per block (multiples of kMicroRows; the macros are for tuning
// builds). Smaller blocks skip more of the masked keys (a block visits the
// union of its rows' intervals); larger ones reuse each K/V tile for more rows,
// which matters most in the backward, whose dK and dV products sum over the
// block's rows. Measured at the pre-training shape: forward 6-24 and backward
// 12-24 are within 3% of each other; 36-48 rows are slower.
constexpr int64_t kFwdBlockRows = MAPET_ATTN_FWD_ROWS;
constexpr int64_t kBwdBlockRows = MAPET_ATTN_BWD_ROWS;

int64_t round_up16(int64_t x) { return (x + 15) / 16 * 16; }

// Packed key columns: [real keys | zeros to 16 | zeros | mask keys]. A row sees
// a prefix of the real keys and a suffix of the mask keys, so the real segment
// starts and the mask segment ends on a 16-column boundary: only the inner end
// of each interval is rounded to whole vectors.
struct KeyLayout {
  int64_t num_real, num_mask;  // keys [0, num_real) real, then num_mask mask tokens
  int64_t mask_seg0;           // first packed column of the mask segment (num_real rounded up to 16)
  int64_t mask_pad;            // zero columns at the start of the mask segment
  int64_t cols;                // packed columns in all
  KeyLayout(int64_t T, int64_t Tk)
      : num_real(T),
        num_mask(Tk - T),
        mask_seg0(round_up16(T)),
        mask_pad(round_up16(Tk - T) - (Tk - T)),
        cols(mask_seg0 + round_up16(Tk - T)) {}
  // The key stored in packed column col, or -1 for padding.
  int64_t key(int64_t col) const {
    if (col < mask_seg0) return col < num_real ? col : -1;
    const int64_t m = col - mask_seg0 - mask_pad;
    return m >= 0 && m < num_mask ? num_real + m : -1;
  }
};

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

// Asks for rows [0, n) of x (leading dimension ld, d columns) to be brought
// into cache: the next block's query rows, so that the products do not wait
// on memory for them.
inline void prefetch_rows(const float* x, int64_t ld, int64_t n, int64_t d) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < d; c += 16) __builtin_prefetch(x + r * ld + c);
}

// r[j][i] <-> r[i][j] for a 16 x 16 block of floats in 16 registers (the
// usual unpack / shuffle / 128-bit-lane shuffle sequence).
inline void transpose16(f32x16 r[16]) {
  f32x16 t[16];
  for (int i = 0; i < 8; ++i) {  // 128-bit lane k: a[4k] b[4k] a[4k+1] b[4k+1], then a[4k+2] b[4k+2] a[4k+3] b[4k+3]
    t[2 * i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
    t[2 * i + 1] =
        __builtin_shufflevector(r[2 * i], r[2 * i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + m], lane k: rows 4i..4i+3 of column 4k + m
    for (int h = 0; h < 2; ++h) {
      const f32x16 x = t[4 * i + h], y = t[4 * i + h + 2];
      r[4 * i + 2 * h] = __builtin_shufflevector(x, y, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
      r[4 * i + 2 * h + 1] = __builtin_shufflevector(x, y, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
  }
  // Column 4k + m: lane k of r[m], r[4 + m], r[8 + m], r[12 + m].
  auto even_lanes = [](f32x16 a, f32x16 b) {
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  };
  auto odd_lanes = [](f32x16 a, f32x16 b) {
    return __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  };
  for (int m = 0; m < 4; ++m) {
    const f32x16 x0 = even_lanes(r[m], r[4 + m]), x1 = odd_lanes(r[m], r[4 + m]);
    const f32x16 y0 = even_lanes(r[8 + m], r[12 + m]), y1 = odd_lanes(r[8 + m], r[12 + m]);
    t[m] = even_lanes(x0, y0);
    t[4 + m] = even_lanes(x1, y1);
    t[8 + m] = odd_lanes(x0, y0);
    t[12 + m] = odd_lanes(x1, y1);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// dst[c * cols + col] = key(col)[c]: K or V transposed, [d][cols].
void pack_transposed(const float* src, int64_t ld, int64_t d, const KeyLayout& kl, float* dst) {
#ifdef __AVX512F__
  // 16 x 16 blocks through registers (cols is a multiple of 16): element by
  // element, the strided stores cost as much as a few tiles' products.
  // The 16 rows of a block are 16 short reads from memory: ask for those of
  // the block after next early, or the transposes wait on them.
  constexpr int64_t kAhead = 32;
  for (int64_t col0 = 0; col0 < kl.cols; col0 += 16) {
    const float* rows[16];
    for (int j = 0; j < 16; ++j) {
      const int64_t key = kl.key(col0 + j);
      rows[j] = key < 0 ? nullptr : src + key * ld;
      const int64_t ahead = col0 + kAhead + j < kl.cols ? kl.key(col0 + kAhead + j) : -1;
      if (ahead >= 0) prefetch_rows(src + ahead * ld, ld, 1, d);
    }
    for (int64_t c0 = 0; c0 < d; c0 += 16) {
      const int w = static_cast<int>(std::min<int64_t>(16, d - c0));
      const __mmask16 m = static_cast<__mmask16>((1u << w) - 1);
      f32x16 r[16];
      for (int j = 0; j < 16; ++j) r[j] = rows[j] ? (f32x16)_mm512_maskz_loadu_ps(m, rows[j] + c0) : f32x16{};
      transpose16(r);
      for (int i = 0; i < w; ++i) store16(dst + (c0 + i) * kl.cols + col0, r[i]);
    }
  }
#else
  for (int64_t col = 0; col < kl.cols; ++col) {
    const int64_t key = kl.key(col);
    for (int64_t c = 0; c < d; ++c) dst[c * kl.cols + col] = key < 0 ? 0.0f : src[key * ld + c];
  }
#endif
}

// dst[col * dp + c] = key(col)[c] (0 past d): K or V by rows, [cols][dp].
void pack_rows(const float* src, int64_t ld, int64_t d, int64_t dp, const KeyLayout& kl, float* dst) {
  for (int64_t col = 0; col < kl.cols; ++col) {
    const int64_t key = kl.key(col);
    float* row = dst + col * dp;
    std::fill(row, row + dp, 0.0f);
    if (key >= 0) std::copy(src + key * ld, src + key * ld + d, row);
  }
}

// Rows [0, n) of src (leading dimension ld, d columns) into [n][dp], zero-padded.
void pack_query_rows(const float* src, int64_t ld, int64_t n, int64_t d, int64_t dp, float* dst) {
  for (int64_t r = 0; r < n; ++r) {
    std::copy(src + r * ld, src + r * ld + d, dst + r * dp);
    std::fill(dst + r * dp + d, dst + (r + 1) * dp, 0.0f);
  }
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

// Carves consecutive 64-byte aligned arrays out of one scratch buffer.
struct Carver {
  float* base;
  size_t used = 0;
  float* take(size_t count) {
    float* p = base + used;
    used += (count + 15) / 16 * 16;
    return p;
  }
  static size_t size(std::initializer_list<size_t> counts) {
    size_t s = 0;
    for (size_t c : counts) s += (c + 15) / 16 * 16;
    return s;
  }
};

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
template <int NV>
void softmax_tile(float* s, int64_t n, int local0, const common::KeyInterval* iv, float scale,
                  common::OnlineSoftmax* st, f32x16* sums, float* acc, int64_t dp) {
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
using SoftmaxTile = void (*)(float*, int64_t, int, const common::KeyInterval*, float, common::OnlineSoftmax*, f32x16*,
                             float*, int64_t);
constexpr SoftmaxTile kSoftmaxTiles[kMicroVectors] = {&softmax_tile<1>, &softmax_tile<2>, &softmax_tile<3>,
                                                      &softmax_tile<4>};


// Backward, in place: raw scores s[r][0, 16 NV) (row stride kTileCols) of keys
// with segment-local indices local0.. become P = exp(scale s - lse[r]) where
// row r sees the key (iv[r]), else 0. As softmax_tile: exp16, and no mask on
// a tile that the row sees whole.
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
using ProbsTile = void (*)(float*, int64_t, int, const common::KeyInterval*, float, const float*);
constexpr ProbsTile kProbsTiles[kMicroVectors] = {&probs_tile<1>, &probs_tile<2>, &probs_tile<3>, &probs_tile<4>};

// Backward: dp[j] becomes dS = scale p (dp - D) (in place).
inline void score_grad_row(const float* p, float* dp, int ncols, float row_d, float scale) {
#pragma omp simd
  for (int j = 0; j < ncols; ++j) dp[j] = common::attention_score_grad(p[j], dp[j], row_d, scale);
}


// ---------------------------------------------------------------------------
// Tile products. forward_rows and backward_head do the softmax and masking;
// the matrix products go through one of two policies with the same members:
// F32Products (FMA on f32) and, under --amp on a CPU with AVX-512 BF16,
// Bf16Products (the same products on bf16 inputs with f32 sums, as the bf16
// GEMMs of the rest of the step). A policy packs K and V once per (b, h), the
// block's rows once per block, and (backward) holds the dK and dV sums.

struct F32Products {
  int64_t d, dp, cols;
  float *kt, *kp, *vt, *vp;  // K^T, K by rows, V^T, V by rows (only what the pass needs)
  float *dk_acc, *dv_acc;    // backward: [cols][dp]
  float *q_pad, *do_pad;     // backward: the block's Q and dO rows, zero-padded to dp
  const float *qb, *dob;     // the block's Q rows (leading dimension ldq) and dO rows (ldd)
  int64_t ldq = 0, ldd = 0;

  static size_t scratch(int64_t d, int64_t dp, int64_t cols, bool backward) {
    return backward ? Carver::size({size_t(d * cols), size_t(cols * dp), size_t(d * cols), size_t(cols * dp),
                                    size_t(cols * dp), size_t(kBwdBlockRows * dp), size_t(kBwdBlockRows * dp)})
                    : Carver::size({size_t(d * cols), size_t(cols * dp)});
  }
  F32Products(Carver& mem, int64_t d_, int64_t dp_, const KeyLayout& kl, bool backward) : d(d_), dp(dp_), cols(kl.cols) {
    kt = mem.take(d * cols);
    if (backward) {
      kp = mem.take(cols * dp);
      vt = mem.take(d * cols);
      dk_acc = mem.take(cols * dp);
      dv_acc = mem.take(cols * dp);
      q_pad = mem.take(kBwdBlockRows * dp);
      do_pad = mem.take(kBwdBlockRows * dp);
    } else {
      vp = mem.take(cols * dp);
    }
  }
  void pack_forward(const KeyLayout& kl, const float* k, int64_t ldk, const float* v, int64_t ldv) {
    pack_transposed(k, ldk, d, kl, kt);
    pack_rows(v, ldv, d, dp, kl, vp);
  }
  void pack_backward(const KeyLayout& kl, const float* k, int64_t ldk, const float* v, int64_t ldv) {
    pack_transposed(k, ldk, d, kl, kt);
    pack_rows(k, ldk, d, dp, kl, kp);
    pack_transposed(v, ldv, d, kl, vt);
    std::fill(dk_acc, dk_acc + cols * dp, 0.0f);
    std::fill(dv_acc, dv_acc + cols * dp, 0.0f);
  }
  // The block's n rows of Q (leading dimension ld_q) and, in the backward, of dO
  // (leading dimension ldo; null in the forward). The backward's products
  // take them zero-padded to dp columns.
  void set_block(const float* q, int64_t ld_q, const float* dout, int64_t ldo, int64_t n) {
    qb = q, ldq = ld_q, dob = nullptr;
    if (!dout) return;
    if (d == dp) {  // rows already dp wide: read in place
      dob = dout, ldd = ldo;
      return;
    }
    pack_query_rows(q, ld_q, n, d, dp, q_pad);
    pack_query_rows(dout, ldo, n, d, dp, do_pad);
    qb = q_pad, ldq = dp, dob = do_pad, ldd = dp;
  }
  // S = Q K^T for the tile's columns.
  void scores(int64_t n, int64_t col0, int64_t ncols, float* s) const {
    small_gemm(n, ncols, d, qb, ldq, 1, kt + col0, cols, s, kTileCols, false);
  }
  // O += P V.
  void add_pv(int64_t n, int64_t col0, int64_t ncols, const float* p, float* acc) const {
    small_gemm(n, dp, ncols, p, kTileCols, 1, vp + col0 * dp, dp, acc, dp, true);
  }
  // dV += P^T dO (for the tile's keys).
  void add_dv(int64_t n, int64_t col0, int64_t ncols, const float* p) const {
    small_gemm(ncols, dp, n, p, 1, kTileCols, dob, ldd, dv_acc + col0 * dp, dp, true);
  }
  // dP = dO V^T.
  void dprobs(int64_t n, int64_t col0, int64_t ncols, float* dpr) const {
    small_gemm(n, ncols, d, dob, ldd, 1, vt + col0, cols, dpr, kTileCols, false);
  }
  // dQ += dS K;  dK += dS^T Q.
  void add_dq_dk(int64_t n, int64_t col0, int64_t ncols, const float* ds, float* dq, int64_t lddq) const {
    small_gemm(n, dp, ncols, ds, kTileCols, 1, kp + col0 * dp, dp, dq, lddq, true);
    small_gemm(ncols, dp, n, ds, 1, kTileCols, qb, ldq, dk_acc + col0 * dp, dp, true);
  }
  void write_dk_dv(const KeyLayout& kl, float* dk, int64_t lddk, float* dv, int64_t lddv) const {
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t key = kl.key(col);
      if (key < 0) continue;
      std::copy(dk_acc + col * dp, dk_acc + col * dp + d, dk + key * lddk);
      std::copy(dv_acc + col * dp, dv_acc + col * dp + d, dv + key * lddv);
    }
  }
};

#ifdef __AVX512BF16__
constexpr bool kHaveBf16Products = true;

// bf16 operands are handled as pairs: two bf16 in one 32-bit word, as
// vdpbf16ps multiplies them (the even k in the low half).

// C[R x 16 NV] (+)= A[R x 2 K2] B[2 K2 x 16 NV] on bf16 inputs with f32 sums
// (vdpbf16ps: each step adds two products per lane). A: rows of K2 pairs,
// pair kp of row r at a[r * a_rs + kp]. B: row kp holds 16 NV pairs
// (B[2kp][j], B[2kp+1][j]) at b[kp * ldb + j].
template <int R, int NV>
void micro_kernel_bf16(int64_t K2, const uint32_t* a, int64_t a_rs, const uint32_t* b, int64_t ldb, float* c,
                       int64_t ldc, bool accumulate) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? _mm512_loadu_ps(c + r * ldc + v * kLanes) : _mm512_setzero_ps();
  for (int64_t kp = 0; kp < K2; ++kp) {
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + kp * ldb + v * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * a_rs + kp]));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], ar, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + r * ldc + v * kLanes, acc[r][v]);
}

using MicroKernelBf16 = void (*)(int64_t, const uint32_t*, int64_t, const uint32_t*, int64_t, float*, int64_t, bool);

template <int R, int... NV>
constexpr auto micro_row_bf16(std::integer_sequence<int, NV...>) {
  return std::array<MicroKernelBf16, sizeof...(NV)>{&micro_kernel_bf16<R, NV + 1>...};
}
template <int... R>
constexpr auto micro_table_bf16(std::integer_sequence<int, R...>) {
  return std::array<std::array<MicroKernelBf16, kMicroVectors>, sizeof...(R)>{
      micro_row_bf16<R + 1>(std::make_integer_sequence<int, kMicroVectors>())...};
}
constexpr auto kMicroKernelsBf16 = micro_table_bf16(std::make_integer_sequence<int, kMicroRows>());

// small_gemm on bf16 pairs: C[M x N] (+)= A[M x 2 K2] B[2 K2 x N], N a multiple of 16.
void small_gemm_bf16(int64_t M, int64_t N, int64_t K2, const uint32_t* a, int64_t a_rs, const uint32_t* b,
                     int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kMicroVectors * kLanes) {
    const int nv = static_cast<int>(std::min<int64_t>(kMicroVectors, (N - j) / kLanes));
    for (int64_t i = 0; i < M; i += kMicroRows) {
      const int r = static_cast<int>(std::min<int64_t>(kMicroRows, M - i));
      kMicroKernelsBf16[r - 1][nv - 1](K2, a + i * a_rs, a_rs, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    }
  }
}

// 16 floats x[0, valid) rounded to bf16 (zeros past valid, or for x == nullptr).
inline __m256i bf16x16(const float* x, int64_t valid) {
  if (!x || valid <= 0) return _mm256_setzero_si256();
  const __mmask16 m = valid >= 16 ? __mmask16(0xffff) : __mmask16((1u << valid) - 1);
  return (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x));
}

// A row as pairs along it: dst[i] = (x[2i], x[2i+1]) for i < dp/2 (zeros past d).
inline void pairs_along(const float* x, int64_t d, int64_t dp, uint32_t* dst) {
  for (int64_t c = 0; c < dp; c += kLanes) _mm256_storeu_si256((__m256i*)(reinterpret_cast<uint16_t*>(dst) + c), bf16x16(x ? x + c : nullptr, d - c));
}

// Two rows as pairs across them: dst[c] = (x0[c], x1[c]) for c < dp (zeros past
// d, and for a null row).
inline void pairs_across(const float* x0, const float* x1, int64_t d, int64_t dp, uint32_t* dst) {
  for (int64_t c = 0; c < dp; c += kLanes) {
    // (The maskz forms only because GCC 12 warns about the plain ones' undefined source.)
    const __m512i lo = _mm512_maskz_cvtepu16_epi32(0xffff, bf16x16(x0 ? x0 + c : nullptr, d - c));
    const __m512i hi = _mm512_maskz_cvtepu16_epi32(0xffff, bf16x16(x1 ? x1 + c : nullptr, d - c));
    _mm512_storeu_si512(dst + c, _mm512_or_si512(lo, _mm512_maskz_slli_epi32(0xffff, hi, 16)));
  }
}

// dst[j * rows + i] = src[i * ld + j] for a rows x cols matrix of pairs.
inline void transpose_pairs(const uint32_t* src, int64_t ld, int64_t rows, int64_t cols, uint32_t* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * ld + j];
}

struct Bf16Products {
  int64_t d, dp, cols;
  uint32_t *kt, *kp, *vt, *vp;  // K^T and V^T ([dp/2][cols]: pairs along d), K and V by rows ([cols/2][dp])
  uint32_t *qa, *doa;           // the block's Q and dO rows, pairs along d ([rows][dp/2])
  uint32_t *qt, *dot;           // the block's Q^T and dO^T, pairs across rows ([dp][rows/2])
  uint32_t *ta, *tb;            // a P or dS tile: pairs along rows ([rows][64/2]), across rows ([rows/2][64])
  uint32_t* tmp;                // [max(cols, rows)][dp]: staging for the transposes
  float *dkt_acc, *dvt_acc;     // backward: dK^T and dV^T, [dp][cols]
  int64_t n2 = 0;               // the block's rows rounded up to even

  static size_t scratch(int64_t d, int64_t dp, int64_t cols, bool backward) {
    const size_t rows = backward ? kBwdBlockRows : kFwdBlockRows;
    return Carver::size({size_t(dp / 2 * cols), size_t(cols / 2 * dp), size_t(dp / 2 * cols), size_t(cols / 2 * dp),
                         rows * dp / 2, rows * dp / 2, dp * rows / 2, dp * rows / 2, rows * kTileCols / 2,
                         rows / 2 * kTileCols, std::max<size_t>(cols, rows) * dp, size_t(dp * cols), size_t(dp * cols)});
  }
  Bf16Products(Carver& mem, int64_t d_, int64_t dp_, const KeyLayout& kl, bool backward)
      : d(d_), dp(dp_), cols(kl.cols) {
    const int64_t rows = backward ? kBwdBlockRows : kFwdBlockRows;
    auto take = [&](int64_t count) { return reinterpret_cast<uint32_t*>(mem.take(static_cast<size_t>(count))); };
    kt = take(dp / 2 * cols), kp = take(cols / 2 * dp), vt = take(dp / 2 * cols), vp = take(cols / 2 * dp);
    qa = take(rows * dp / 2), doa = take(rows * dp / 2), qt = take(dp * rows / 2), dot = take(dp * rows / 2);
    ta = take(rows * kTileCols / 2), tb = take(rows / 2 * kTileCols);
    tmp = take(std::max(cols, rows) * dp);
    dkt_acc = mem.take(dp * cols), dvt_acc = mem.take(dp * cols);
  }
  // X^T with pairs along d, [dp/2][cols], from the key rows of X.
  void pack_keys_transposed(const KeyLayout& kl, const float* x, int64_t ld, uint32_t* dst) {
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t key = kl.key(col);
      pairs_along(key < 0 ? nullptr : x + key * ld, d, dp, tmp + col * (dp / 2));
    }
    transpose_pairs(tmp, dp / 2, cols, dp / 2, dst);
  }
  // X by rows with pairs across keys, [cols/2][dp].
  void pack_keys_rows(const KeyLayout& kl, const float* x, int64_t ld, uint32_t* dst) const {
    auto row = [&](int64_t col) { const int64_t key = kl.key(col); return key < 0 ? nullptr : x + key * ld; };
    for (int64_t i = 0; i < cols / 2; ++i) pairs_across(row(2 * i), row(2 * i + 1), d, dp, dst + i * dp);
  }
  void pack_forward(const KeyLayout& kl, const float* k, int64_t ldk, const float* v, int64_t ldv) {
    pack_keys_transposed(kl, k, ldk, kt);
    pack_keys_rows(kl, v, ldv, vp);
  }
  void pack_backward(const KeyLayout& kl, const float* k, int64_t ldk, const float* v, int64_t ldv) {
    pack_keys_transposed(kl, k, ldk, kt);
    pack_keys_rows(kl, k, ldk, kp);
    pack_keys_transposed(kl, v, ldv, vt);
    std::fill(dkt_acc, dkt_acc + dp * cols, 0.0f);
    std::fill(dvt_acc, dvt_acc + dp * cols, 0.0f);
  }
  // X^T of the block's rows with pairs across rows: [dp][n2/2].
  void pack_block_transposed(const float* x, int64_t ld, int64_t n, uint32_t* dst) {
    auto row = [&](int64_t r) { return r < n ? x + r * ld : nullptr; };
    for (int64_t i = 0; i < n2 / 2; ++i) pairs_across(row(2 * i), row(2 * i + 1), d, dp, tmp + i * dp);
    transpose_pairs(tmp, dp, n2 / 2, dp, dst);
  }
  void set_block(const float* q, int64_t ldq, const float* dout, int64_t ldo, int64_t n) {
    n2 = (n + 1) / 2 * 2;
    for (int64_t r = 0; r < n; ++r) pairs_along(q + r * ldq, d, dp, qa + r * (dp / 2));
    if (!dout) return;  // forward
    for (int64_t r = 0; r < n; ++r) pairs_along(dout + r * ldo, d, dp, doa + r * (dp / 2));
    pack_block_transposed(q, ldq, n, qt);
    pack_block_transposed(dout, ldo, n, dot);
  }
  // A tile ([n][kTileCols] f32, ncols used) as pairs along its rows (into ta)
  // or across them (into tb, a zero row past n).
  void tile_along(const float* t, int64_t n, int64_t ncols) {
    for (int64_t r = 0; r < n; ++r) pairs_along(t + r * kTileCols, ncols, ncols, ta + r * (kTileCols / 2));
  }
  void tile_across(const float* t, int64_t n, int64_t ncols) {
    for (int64_t i = 0; i < n2 / 2; ++i)
      pairs_across(t + 2 * i * kTileCols, 2 * i + 1 < n ? t + (2 * i + 1) * kTileCols : nullptr, ncols, ncols,
                   tb + i * kTileCols);
  }

  void scores(int64_t n, int64_t col0, int64_t ncols, float* s) const {
    small_gemm_bf16(n, ncols, dp / 2, qa, dp / 2, kt + col0, cols, s, kTileCols, false);
  }
  void add_pv(int64_t n, int64_t col0, int64_t ncols, const float* p, float* acc) {
    tile_along(p, n, ncols);
    small_gemm_bf16(n, dp, ncols / 2, ta, kTileCols / 2, vp + col0 / 2 * dp, dp, acc, dp, true);
  }
  // dV^T += dO^T P: the transposed product, so that both bf16 operands are
  // packed once per block or with unit-stride loads per tile.
  void add_dv(int64_t n, int64_t col0, int64_t ncols, const float* p) {
    tile_across(p, n, ncols);
    small_gemm_bf16(d, ncols, n2 / 2, dot, n2 / 2, tb, kTileCols, dvt_acc + col0, cols, true);
  }
  void dprobs(int64_t n, int64_t col0, int64_t ncols, float* dpr) const {
    small_gemm_bf16(n, ncols, dp / 2, doa, dp / 2, vt + col0, cols, dpr, kTileCols, false);
  }
  // dQ += dS K;  dK^T += Q^T dS.
  void add_dq_dk(int64_t n, int64_t col0, int64_t ncols, const float* ds, float* dq, int64_t lddq) {
    tile_along(ds, n, ncols);
    small_gemm_bf16(n, dp, ncols / 2, ta, kTileCols / 2, kp + col0 / 2 * dp, dp, dq, lddq, true);
    tile_across(ds, n, ncols);
    small_gemm_bf16(d, ncols, n2 / 2, qt, n2 / 2, tb, kTileCols, dkt_acc + col0, cols, true);
  }
  void write_dk_dv(const KeyLayout& kl, float* dk, int64_t lddk, float* dv, int64_t lddv) const {
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t key = kl.key(col);
      if (key < 0) continue;
      for (int64_t c = 0; c < d; ++c) {
        dk[key * lddk + c] = dkt_acc[c * cols + col];
        dv[key * lddv + c] = dvt_acc[c * cols + col];
      }
    }
  }
};
#else
constexpr bool kHaveBf16Products = false;
using Bf16Products = F32Products;  // never chosen: no AVX-512 BF16 in this build
#endif
// ---------------------------------------------------------------------------
// Forward for one (b, h) and query rows [row_begin, row_end).

template <class Products>
void forward_rows(const IntervalAttentionShape& s, const KeyLayout& kl, Products& prod, const float* q, int64_t ldq,
                  int64_t dp, int64_t row_begin, int64_t row_end, float* scores, float* acc, float* out, int64_t ldo,
                  float* lse) {
  const int num_real = static_cast<int>(kl.num_real), num_mask = static_cast<int>(kl.num_mask);
  common::OnlineSoftmax st[kFwdBlockRows];
  f32x16 sums[kFwdBlockRows];  // running sums, as lane-wise partial sums
  for (int64_t i0 = row_begin; i0 < row_end; i0 += kFwdBlockRows) {
    const int64_t n = std::min(kFwdBlockRows, row_end - i0);
    const int* re = s.real_end + i0;
    const int* ms = s.mask_start + i0;
    const common::KeyRanges u = common::block_key_ranges(re, ms, static_cast<int>(n), num_real, num_mask);
    std::fill(acc, acc + n * dp, 0.0f);
    for (int64_t r = 0; r < n; ++r) st[r] = common::OnlineSoftmax{}, sums[r] = f32x16{};
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
      st[r].sum = horizontal_sum(sums[r]);
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
