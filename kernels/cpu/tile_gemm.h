// Small dense products for kernels that tile their work (the interval
// attention's Q K^T, P V, ... per tile): C (+)= A B on blocks that live in
// L1/L2, built from one register-blocked micro-kernel (6 rows x one panel of
// accumulators, sized to the level's registers: 64 columns on AVX-512, 16 on
// AVX2): FMA on f32, or, on a level with AVX-512 BF16, vdpbf16ps on bf16 pairs
// with f32 sums.
//
// Internal to an instruction-set level: include it only from a source that
// mapet_isa_sources() compiles once per level (kernels/CMakeLists.txt); each
// level, and each such source, gets its own copy. A header rather than a
// source of its own, so that the callers' tile loops and these products stay
// one translation unit as before: small_gemm and the pair packing inline into
// the caller (the micro-kernels are reached through a table of pointers either way).
#pragma once
#ifndef MAPET_ISA
#error "kernels/cpu/tile_gemm.h is internal to a source compiled once per instruction-set level (kernels/cpu/isa.h)"
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

namespace mapet::cpu::MAPET_ISA {
namespace {

// 16 floats: one AVX-512 register (GCC's vector extension; with -march=native
// on an AVX-512 machine these are zmm registers and a * b + c is one FMA,
// elsewhere GCC splits them into narrower vectors). Unaligned, may alias float.
typedef float f32x16 __attribute__((vector_size(64), aligned(4), may_alias));
constexpr int kLanes = 16;

inline f32x16 load16(const float* p) { return *reinterpret_cast<const f32x16*>(p); }
inline void store16(float* p, f32x16 x) { *reinterpret_cast<f32x16*>(p) = x; }

// A 64-column tile is 4 of the 16-lane vectors above (the softmax's and the
// bf16 kernel's unit).
constexpr int kMicroVectors = 4;  // 64 columns

// The micro-kernel's own vector: one register of the level. GCC splits a
// 64-byte vector into narrower ones below AVX-512, and there it keeps arrays of
// them on the stack (an AVX2 build of the 6 x 4 x 16 kernel moved every
// accumulator through memory and general registers on each step), so the
// products are blocked in the level's native width instead.
#if defined(__AVX512F__)
typedef float vecf __attribute__((vector_size(64), aligned(4), may_alias));
#elif defined(__AVX__)
typedef float vecf __attribute__((vector_size(32), aligned(4), may_alias));
#else
typedef float vecf __attribute__((vector_size(16), aligned(4), may_alias));
#endif
constexpr int kVecLanes = static_cast<int>(sizeof(vecf) / sizeof(float));
inline vecf loadv(const float* p) { return *reinterpret_cast<const vecf*>(p); }
inline void storev(float* p, vecf x) { *reinterpret_cast<vecf*>(p) = x; }

// Register blocking: kMicroRows rows x kPanelVectors vectors of accumulators,
// sized to the level's vector registers with room for the B row and the
// broadcast of A:
//   AVX-512 (32 zmm): 6 x 4 zmm = 6 x 64 columns, 24 accumulators + 4 B
//   AVX2 (16 ymm):    6 x 2 ymm = 6 x 16 columns, 12 accumulators + 2 B + 1 A
//   SSE2 (16 xmm, no FMA): 6 x 2 xmm = 6 x 8 columns, 12 + 2 B + 1 A + 1 product
//   NEON (32 q):      6 x 4 q = 6 x 16 columns
constexpr int kMicroRows = 6;
#if defined(__AVX512F__) || (!defined(__AVX__) && !defined(__SSE2__))
constexpr int kPanelVectors = 4;
#else
constexpr int kPanelVectors = 2;
#endif
constexpr int kPanelCols = kPanelVectors * kVecLanes;
static_assert(kLanes % kPanelCols == 0 || kPanelCols % kLanes == 0, "panels and 16-column blocks must nest");

// C[R x NV vectors] (+)= A[R x K] B[K x NV vectors]. A is read one element at a
// time (broadcast to a vector) at a[r * a_rs + kk * a_ks], so the same kernel
// takes A or A^T; B is row-major with leading dimension ldb. Each element of C
// is summed over k in order (one FMA per k where the level has FMA), whatever
// the blocking: every level's blocking gives the same sums.
template <int R, int NV>
void micro_kernel(int64_t K, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb, float* c,
                  int64_t ldc, bool accumulate) {
  vecf acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? loadv(c + r * ldc + v * kVecLanes) : vecf{};
  for (int64_t kk = 0; kk < K; ++kk) {
    vecf bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = loadv(b + kk * ldb + v * kVecLanes);
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
    for (int v = 0; v < NV; ++v) storev(c + r * ldc + v * kVecLanes, acc[r][v]);
}

using MicroKernel = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, bool);

template <int R, int... NV>
constexpr auto micro_row(std::integer_sequence<int, NV...>) {
  return std::array<MicroKernel, sizeof...(NV)>{&micro_kernel<R, NV + 1>...};
}
template <int... R>
constexpr auto micro_table(std::integer_sequence<int, R...>) {
  return std::array<std::array<MicroKernel, kPanelVectors>, sizeof...(R)>{
      micro_row<R + 1>(std::make_integer_sequence<int, kPanelVectors>())...};
}
// kMicroKernels[R - 1][NV - 1]: every edge shape of a block.
constexpr auto kMicroKernels = micro_table(std::make_integer_sequence<int, kMicroRows>());

// C[M x N] (+)= A[M x K] B[K x N] for blocks that live in L1/L2; N a multiple
// of 16. Columns outer, so a panel of B is reused by every row chunk.
void small_gemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kPanelCols) {
    const int nv = static_cast<int>(std::min<int64_t>(kPanelVectors, (N - j) / kVecLanes));
    for (int64_t i = 0; i < M; i += kMicroRows) {
      const int r = static_cast<int>(std::min<int64_t>(kMicroRows, M - i));
      kMicroKernels[r - 1][nv - 1](K, a + i * a_rs, a_rs, a_ks, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    }
  }
}

#ifdef __AVX512BF16__
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
#endif

}  // namespace
}  // namespace mapet::cpu::MAPET_ISA
