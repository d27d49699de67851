// The tile products of the interval attention (kernels/cpu/interval_attention.cpp):
// K and V packed once per (b, h) into zero-padded layouts whose key columns
// are [real keys | zeros | zeros | mask keys] (KeyLayout), the block's query
// rows packed once per block, and the products of a tile (S = Q K^T, O += P V,
// and the backward's dV, dP, dQ, dK) on the micro-GEMM of tile_gemm.h:
// F32Products on f32, Bf16Products on bf16 pairs under --amp.
//
// Internal to an instruction-set level, as tile_gemm.h.
#pragma once
#ifndef MAPET_ISA
#error "kernels/cpu/interval_attention_products.h is internal to a source compiled once per instruction-set level (kernels/cpu/isa.h)"
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "kernels/cpu/tile_gemm.h"

namespace mapet::cpu::MAPET_ISA {
namespace {

// ---------------------------------------------------------------------------
// Packed key layout.

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

#if defined(__AVX2__) && !defined(__AVX512F__)
// r[j][i] <-> r[i][j] for an 8 x 8 block of floats in 8 registers.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {  // rows 2i, 2i+1 interleaved
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {  // 4 rows: columns 4k + m in each 128-bit lane k
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int m = 0; m < 4; ++m) {  // column m from lane 0, column 4 + m from lane 1
    r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
    r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
  }
}
#endif

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
#elif defined(__AVX2__)
  // 8 x 8 blocks through registers, as above (element by element, the packs
  // took about a tenth of the AVX2 attention).
  for (int64_t col0 = 0; col0 < kl.cols; col0 += 8) {
    const float* rows[8];
    for (int j = 0; j < 8; ++j) {
      const int64_t key = kl.key(col0 + j);
      rows[j] = key < 0 ? nullptr : src + key * ld;
    }
    int64_t c0 = 0;
    for (; c0 + 8 <= d; c0 += 8) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) r[j] = rows[j] ? _mm256_loadu_ps(rows[j] + c0) : _mm256_setzero_ps();
      transpose8(r);
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (c0 + i) * kl.cols + col0, r[i]);
    }
    for (; c0 < d; ++c0)
      for (int j = 0; j < 8; ++j) dst[c0 * kl.cols + col0 + j] = rows[j] ? rows[j][c0] : 0.0f;
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

}  // namespace
}  // namespace mapet::cpu::MAPET_ISA
