// Tiles and warp-level products of the interval attention kernels
// (kernels/cuda/interval_attention.cu), in two precisions that share one
// register layout, so that the kernels' masking and softmax are written once:
//
//   bf16 (kBf16 = true): shared tiles hold bf16 (rounded from f32 on load);
//     products are mma.sync m16n8k16 with f32 accumulators, operands through ldmatrix.
//   f32 (kBf16 = false): shared tiles hold f32; products are plain FMA loops
//     that write the same accumulator elements an mma would.
//
// A warp owns 16 rows ("M"). Its accumulators are mma C fragments: lane l
// holds, for each 8-column block nb, c[nb][0..1] = (row g, columns 8nb + 2t, +1)
// and c[nb][2..3] = (row g + 8, same columns), with g = l / 4, t = l % 4.
#pragma once
#include <cstdint>

#include "kernels/common/bf16.h"
#include "kernels/cuda/dialect.cuh"

// `#pragma unroll n` for nvcc, `#pragma GCC unroll n` for g++ (simt), which
// does not know the former. (A candidate for the dialect.)
#ifndef MAPET_UNROLL
#define MAPET_PRAGMA_(x) _Pragma(#x)
#if defined(__CUDACC__)
#define MAPET_UNROLL(n) MAPET_PRAGMA_(unroll n)
#else
#define MAPET_UNROLL(n) MAPET_PRAGMA_(GCC unroll n)
#endif
#endif

namespace mapet::cuda::attn {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr unsigned kFull = 0xffffffffu;

// Element type and row pitch of a shared tile. Rows are padded by 16 bytes so
// that the 8 rows one ldmatrix (or one float4 load phase) reads start in
// different banks: no bank conflicts.
template <bool kBf16>
struct Smem;
template <>
struct Smem<true> {
  using T = uint16_t;  // bf16 bits
  static constexpr int kPad = 8;
};
template <>
struct Smem<false> {
  using T = float;
  static constexpr int kPad = 4;
};
template <int DP, bool kBf16>
constexpr int pitch() {
  return DP + Smem<kBf16>::kPad;
}
// The f32 products stage a warp's 16 x K operand in shared memory: its floats.
template <bool kBf16, int K>
constexpr int stage_floats() {
  return kBf16 ? 0 : kWarps * 16 * (K + 4);
}

__device__ __forceinline__ uint16_t to_bf16(float x) {
#if defined(__CUDA_ARCH__)
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
#else
  return common::float_to_bf16(x);  // the same rounding (to nearest even)
#endif
}

// Two floats as the bf16 pair of an mma operand register (lower index in the low half).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
#if defined(__CUDA_ARCH__)
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
#else
  return uint32_t(common::float_to_bf16(lo)) | uint32_t(common::float_to_bf16(hi)) << 16;
#endif
}

// What the bf16 path makes of an input value.
template <bool kBf16>
__device__ __forceinline__ float input_value(float x) {
  if constexpr (kBf16) return common::bf16_to_float(to_bf16(x));
  return x;
}

// Rows r = 0..R-1 of a shared tile <- rows lo + r of src (row stride `stride`),
// zero where lo + r is outside [0, n) and in columns [d, DP): padding rows and
// columns then add nothing to any product (a NaN there would, even times 0).
// Consecutive threads read consecutive columns of a row: coalesced. With vec4
// (src and stride 16-byte aligned, d a multiple of 4; the same in every
// thread) each thread moves 16 bytes at a time.
template <int DP, int R, bool kBf16>
__device__ __forceinline__ void load_tile(typename Smem<kBf16>::T* dst, const float* __restrict__ src, int64_t stride,
                                          int lo, int n, int d, bool vec4) {
  static_assert(R * DP % (4 * kThreads) == 0, "whole rounds of the block");
  constexpr int LD = pitch<DP, kBf16>();
  if (vec4) {
    MAPET_UNROLL(4)  // 4 loads of 16 bytes in flight per thread; 8 costs the d = 128 backward its registers
    for (int i = 0; i < R * DP / (4 * kThreads); ++i) {
      const int e = threadIdx.x + i * kThreads, r = e / (DP / 4), c = e % (DP / 4) * 4, row = lo + r;
      float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (c < d && row >= 0 && row < n) x = __ldg(reinterpret_cast<const float4*>(src + row * stride + c));
      if constexpr (kBf16)
        *reinterpret_cast<uint2*>(dst + r * LD + c) = make_uint2(pack_bf16(x.x, x.y), pack_bf16(x.z, x.w));
      else
        *reinterpret_cast<float4*>(dst + r * LD + c) = x;
    }
    return;
  }
  MAPET_UNROLL(8)
  for (int i = 0; i < R * DP / kThreads; ++i) {
    const int e = threadIdx.x + i * kThreads, r = e / DP, c = e % DP, row = lo + r;
    float x = 0.0f;
    if (c < d && row >= 0 && row < n) x = __ldg(src + row * stride + c);
    if constexpr (kBf16)
      dst[r * LD + c] = to_bf16(x);
    else
      dst[r * LD + c] = x;
  }
}

// c[16 x N] = A[16 x DP] B[N x DP]^T: A is the warp's 16 rows of one tile,
// B the N rows of another (both in shared memory).
template <int DP, int N>
__device__ __forceinline__ void product_nt(float c[N / 8][4], const uint16_t* A, const uint16_t* B, int lane) {
  constexpr int LD = pitch<DP, true>();
  MAPET_UNROLL(64)
  for (int nb = 0; nb < N / 8; ++nb) c[nb][0] = c[nb][1] = c[nb][2] = c[nb][3] = 0.0f;
  MAPET_UNROLL(64)
  for (int k0 = 0; k0 < DP; k0 += 16) {
    uint32_t a[4];  // rows 0-7 / 8-15 (lanes 0-7 / 8-15), columns k0 / k0 + 8 (lanes 0-15 / 16-31)
    ldmatrix_x4(a, A + (lane % 16) * LD + k0 + (lane / 16) * 8);
    MAPET_UNROLL(64)
    for (int nb = 0; nb < N / 8; nb += 2) {
      // Matrices: (rows of block nb, k0), (nb, k0 + 8), (nb + 1, k0), (nb + 1, k0 + 8).
      uint32_t b[4];
      ldmatrix_x4(b, B + (nb * 8 + (lane / 16) * 8 + lane % 8) * LD + k0 + ((lane / 8) % 2) * 8);
      mma_m16n8k16_bf16_f32(c[nb], a, b, c[nb]);
      mma_m16n8k16_bf16_f32(c[nb + 1], a, b + 2, c[nb + 1]);
    }
  }
}

template <int DP, int N>
__device__ __forceinline__ void product_nt(float c[N / 8][4], const float* A, const float* B, int lane) {
  constexpr int LD = pitch<DP, false>();
  const int g = lane / 4, t = lane % 4;
  MAPET_UNROLL(64)
  for (int nb = 0; nb < N / 8; ++nb) c[nb][0] = c[nb][1] = c[nb][2] = c[nb][3] = 0.0f;
  MAPET_UNROLL(2)
  for (int k = 0; k < DP; k += 4) {
    const float4 a0 = *reinterpret_cast<const float4*>(A + g * LD + k);
    const float4 a1 = *reinterpret_cast<const float4*>(A + (g + 8) * LD + k);
    MAPET_UNROLL(64)
    for (int nb = 0; nb < N / 8; ++nb)
      MAPET_UNROLL(64)
      for (int e = 0; e < 2; ++e) {
        const float4 b = *reinterpret_cast<const float4*>(B + (nb * 8 + 2 * t + e) * LD + k);
        c[nb][e] += a0.x * b.x + a0.y * b.y + a0.z * b.z + a0.w * b.w;
        c[nb][2 + e] += a1.x * b.x + a1.y * b.y + a1.z * b.z + a1.w * b.w;
      }
  }
}

// o[16 x DP] += p[16 x K] B[K x DP]: p is a warp's accumulator fragments (as
// product_nt leaves them), B the K rows of a shared tile. On the bf16 path p is
// rounded to bf16 here (the C fragment of one mma is, pair for pair, the A
// fragment of the next); `stage` is unused.
template <int DP, int K>
__device__ __forceinline__ void product_nn(float o[DP / 8][4], const float p[K / 8][4], const uint16_t* B,
                                           float* /*stage*/, int lane) {
  constexpr int LD = pitch<DP, true>();
  static_assert(DP % 16 == 0 && K % 16 == 0, "whole mma tiles");
  MAPET_UNROLL(64)
  for (int j = 0; j < K / 16; ++j) {
    const uint32_t a[4] = {pack_bf16(p[2 * j][0], p[2 * j][1]), pack_bf16(p[2 * j][2], p[2 * j][3]),
                           pack_bf16(p[2 * j + 1][0], p[2 * j + 1][1]), pack_bf16(p[2 * j + 1][2], p[2 * j + 1][3])};
    MAPET_UNROLL(64)
    for (int cb = 0; cb < DP / 8; cb += 2) {
      // Transposed: matrices (rows 16j..+7, columns of block cb), (16j+8.., cb), (16j.., cb + 1), (16j+8.., cb + 1).
      uint32_t b[4];
      ldmatrix_x4_trans(b, B + (16 * j + lane % 16) * LD + cb * 8 + (lane / 16) * 8);
      mma_m16n8k16_bf16_f32(o[cb], a, b, o[cb]);
      mma_m16n8k16_bf16_f32(o[cb + 1], a, b + 2, o[cb + 1]);
    }
  }
}

// The f32 path: p goes through the warp's staging area (16 x (K + 4) floats),
// where each lane reads whole rows of it.
template <int DP, int K>
__device__ __forceinline__ void product_nn(float o[DP / 8][4], const float p[K / 8][4], const float* B, float* stage,
                                           int lane) {
  constexpr int LD = pitch<DP, false>(), LS = K + 4;
  const int g = lane / 4, t = lane % 4;
  __syncwarp();  // every lane is done reading the previous product's staging
  MAPET_UNROLL(64)
  for (int nb = 0; nb < K / 8; ++nb) {
    *reinterpret_cast<float2*>(stage + g * LS + nb * 8 + 2 * t) = make_float2(p[nb][0], p[nb][1]);
    *reinterpret_cast<float2*>(stage + (g + 8) * LS + nb * 8 + 2 * t) = make_float2(p[nb][2], p[nb][3]);
  }
  __syncwarp();
  MAPET_UNROLL(4)
  for (int k = 0; k < K; ++k) {
    const float p0 = stage[g * LS + k], p1 = stage[(g + 8) * LS + k];
    MAPET_UNROLL(64)
    for (int cb = 0; cb < DP / 8; ++cb) {
      const float2 b = *reinterpret_cast<const float2*>(B + k * LD + cb * 8 + 2 * t);
      o[cb][0] += p0 * b.x;
      o[cb][1] += p0 * b.y;
      o[cb][2] += p1 * b.x;
      o[cb][3] += p1 * b.y;
    }
  }
}

// Sum over the warp (butterfly: every lane gets the same bits).
__device__ __forceinline__ float warp_sum(float x) {
  MAPET_UNROLL(64)
  for (int m = 16; m > 0; m /= 2) x += __shfl_xor_sync(kFull, x, m);
  return x;
}

// D_i = dO_i . O_i (the backward's row term) for rows first + i, i = 0..R-1,
// into sd[i]; 0 past Tq. One warp per row; dO as the path sees it (bf16-rounded
// on the bf16 path, as in dP = dO V^T).
template <int R, bool kBf16>
__device__ __forceinline__ void row_dots(float* sd, const float* dout, int64_t ld_dout, const float* out,
                                         int64_t ld_out, int first, int Tq, int d) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int i = warp; i < R; i += kWarps) {
    const int r = first + i;
    float x = 0.0f;
    if (r < Tq)
      for (int c = lane; c < d; c += 32)
        x += input_value<kBf16>(__ldg(dout + r * ld_dout + c)) * __ldg(out + r * ld_out + c);
    x = warp_sum(x);
    if (lane == 0) sd[i] = x;
  }
}

}  // namespace mapet::cuda::attn
