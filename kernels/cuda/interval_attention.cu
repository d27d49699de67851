// The MaPeT two-stream interval attention on the GPU, flash-style (the twin of
// kernels/cpu/interval_attention.cpp; the per-row math is
// kernels/common/interval_attention.h, the tiles and products
// kernels/cuda/interval_attention_tiles.cuh).
//
// Keys are [real (num_real) | mask tokens (num_mask)]; row i sees real keys
// [0, real_end[i]) and mask keys [mask_start[i], num_mask): two ints per row,
// no mask in memory. Key tiles of 64 never straddle the two segments: real
// tiles start at key 0, mask tiles end at the last key (the rows see a prefix
// of one and a suffix of the other, so only the inner end of an interval cuts
// a tile). A block visits only the tiles that some of its rows see, and a warp
// skips the products of a tile none of its 16 rows sees.
//
// Forward: a block is 64 query rows of one (b, h), 4 warps of 16 rows; per key
// tile S = Q K^T, the online softmax in registers, O += P V; lse saved.
// Backward, two deterministic passes (no atomics, so the same bits in any
// block order, as the CPU twin):
//   dQ:     per 64 query rows, over the key tiles: recompute P from lse, dP = dO V^T,
//           dS = scale P (dP - D), dQ += dS K;
//   dK, dV: per 64 keys, over the query rows that see them (in steps of 64, or
//           32 for d > 64, to bound registers): P^T and dP^T recomputed, dV += P^T dO,
//           dK += dS^T Q.
// The recomputation of S and dP in both passes costs 2 of the 7 products;
// FlashAttention-2 saves them with atomic dQ sums, which make the result
// depend on the order of the blocks. D = rowsum(dO * O) is recomputed where
// it is needed (the entry points have no workspace).
#include "kernels/cuda/dialect.cuh"  // first: the dialect for both compilers

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/common/interval_attention.h"
#include "kernels/cuda/interval_attention.cuh"
#include "kernels/cuda/interval_attention_tiles.cuh"

namespace mapet::cuda {

namespace {

using namespace attn;
using common::KeyInterval;
using common::KeyRanges;
using common::OnlineSoftmax;

constexpr int kTile = 64;  // query rows per block (forward, dQ) and keys per tile
constexpr float kNegInf = -__builtin_inff();

// The mask of a query row: its (real_end, mask_start); a row past Tq sees nothing.
struct RowMask {
  int real_end, mask_start;
};
__device__ __forceinline__ RowMask row_mask(const IntervalAttentionShape& s, int r, int num_mask) {
  if (r >= s.Tq) return {0, num_mask};
  return {s.real_end[r], s.mask_start[r]};
}

// The keys that some row of a set sees (common::block_key_ranges), from each
// lane's share of the rows: the same value in every lane.
__device__ __forceinline__ KeyRanges warp_union(RowMask m, int num_real, int num_mask) {
  const KeyInterval real = common::row_key_interval(false, m.real_end, m.mask_start, num_real, num_mask);
  const KeyInterval mask = common::row_key_interval(true, m.real_end, m.mask_start, num_real, num_mask);
  return {__reduce_max_sync(kFull, real.end), __reduce_min_sync(kFull, mask.begin)};
}
__device__ __forceinline__ KeyRanges merge(KeyRanges a, KeyRanges b) {
  return {max(a.real_end, b.real_end), min(a.mask_start, b.mask_start)};
}
// Does [lo, lo + n) meet the keys of u in its segment?
__device__ __forceinline__ bool sees(KeyRanges u, bool mask_segment, int lo, int n, int num_mask) {
  return mask_segment ? u.mask_start < num_mask && lo + n > u.mask_start : lo < u.real_end;
}

// Calls f(mask_segment, lo) for the key tiles [lo, lo + 64) of a segment that
// the keys u meet: real tiles from key 0, mask tiles aligned to the segment's
// end. One loop, so that f's code (the products, unrolled) exists once.
template <class F>
__device__ __forceinline__ void for_each_key_tile(KeyRanges u, int num_mask, F&& f) {
  const int real_tiles = (u.real_end + kTile - 1) / kTile;
  const int mask_tiles = u.mask_start < num_mask ? (num_mask - u.mask_start + kTile - 1) / kTile : 0;
  for (int i = 0; i < real_tiles + mask_tiles; ++i) {
    const bool mask_segment = i >= real_tiles;
    f(mask_segment, mask_segment ? num_mask - (real_tiles + mask_tiles - i) * kTile : i * kTile);
  }
}

__device__ __forceinline__ const float* head(const HeadsView& x, int b, int h) {
  return x.data + b * x.batch_stride + h * x.head_stride;
}
__device__ __forceinline__ float* head(const OutHeadsView& x, int b, int h) {
  return x.data + b * x.batch_stride + h * x.head_stride;
}

// Writes a warp's 16 x DP accumulators (rows first + g, first + g + 8) to
// rows [.., n) and columns [0, d) of dst, times row_scale[i].
template <int DP>
__device__ __forceinline__ void store_rows(float* dst, int64_t stride, const float acc[DP / 8][4], int first, int n,
                                           int d, const float row_scale[2], int lane) {
  const int g = lane / 4, t = lane % 4;
  MAPET_UNROLL(64)
  for (int i = 0; i < 2; ++i) {
    const int r = first + g + 8 * i;
    if (r < 0 || r >= n) continue;
    MAPET_UNROLL(64)
    for (int cb = 0; cb < DP / 8; ++cb)
      MAPET_UNROLL(64)
      for (int e = 0; e < 2; ++e) {
        const int c = cb * 8 + 2 * t + e;
        if (c < d) dst[r * stride + c] = acc[cb][2 * i + e] * row_scale[i];
      }
  }
}

// ---------------------------------------------------------------------------
// Forward.

template <int DP, bool kBf16>
__global__ void __launch_bounds__(kThreads)
    interval_attention_forward_kernel(IntervalAttentionShape s, HeadsView q, HeadsView k, HeadsView v,
                                      OutHeadsView out, float* lse, bool vec4) {
  using T = typename Smem<kBf16>::T;
  constexpr int LD = pitch<DP, kBf16>();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  MAPET_DYNAMIC_SMEM(T, sq);  // [64][LD] query rows, then K and V tiles, then (f32) staging
  T* sk = sq + kTile * LD;
  T* sv = sk + kTile * LD;
  float* stage = reinterpret_cast<float*>(sv + kTile * LD) + warp * 16 * (kTile + 4);
  // (32-bit: a 64-bit division is a subroutine call on the GPU.)
  const int H = static_cast<int>(s.H), b = blockIdx.y / H, h = blockIdx.y % H, row0 = blockIdx.x * kTile;
  const int Tq = static_cast<int>(s.Tq), d = static_cast<int>(s.d);
  const int num_real = static_cast<int>(s.num_real), num_mask = static_cast<int>(s.Tk - s.num_real);
  const float *kb = head(k, b, h), *vb = head(v, b, h);

  load_tile<DP, kTile, kBf16>(sq, head(q, b, h), q.row_stride, row0, Tq, d, vec4);

  // This thread's rows (g and g + 8 of the warp's 16), the warp's key union and the block's.
  const int wrow = row0 + warp * 16;
  const RowMask rm[2] = {row_mask(s, wrow + g, num_mask), row_mask(s, wrow + g + 8, num_mask)};
  const KeyRanges wu = merge(warp_union(rm[0], num_real, num_mask), warp_union(rm[1], num_real, num_mask));
  const KeyRanges bu = merge(warp_union(row_mask(s, row0 + lane, num_mask), num_real, num_mask),
                             warp_union(row_mask(s, row0 + lane + 32, num_mask), num_real, num_mask));

  OnlineSoftmax st[2];
  float sum[2] = {0.0f, 0.0f};  // this lane's share of each row's running sum
  float o[DP / 8][4] = {};

  for_each_key_tile(bu, num_mask, [&](bool mask_segment, int lo) {
    const int64_t seg0 = mask_segment ? num_real : 0;
    const int n = mask_segment ? num_mask : num_real;
    __syncthreads();  // every warp is done with the previous tile
    load_tile<DP, kTile, kBf16>(sk, kb + seg0 * k.row_stride, k.row_stride, lo, n, d, vec4);
    load_tile<DP, kTile, kBf16>(sv, vb + seg0 * v.row_stride, v.row_stride, lo, n, d, vec4);
    __syncthreads();
    if (!sees(wu, mask_segment, lo, kTile, num_mask)) return;

    float sc[kTile / 8][4];
    product_nt<DP, kTile>(sc, sq + warp * 16 * LD, sk, lane);
    MAPET_UNROLL(64)
    for (int i = 0; i < 2; ++i) {
      // Scaled scores (a rounded product, as the CPU twin), -inf where hidden.
      const KeyInterval iv =
          common::row_key_interval(mask_segment, rm[i].real_end, rm[i].mask_start, num_real, num_mask);
      float mx = kNegInf;
      MAPET_UNROLL(64)
      for (int nb = 0; nb < kTile / 8; ++nb)
        MAPET_UNROLL(64)
        for (int e = 0; e < 2; ++e) {
          const bool visible = common::key_visible(lo + nb * 8 + 2 * t + e, iv);
          const float x = visible ? __fmul_rn(sc[nb][2 * i + e], s.scale) : kNegInf;
          sc[nb][2 * i + e] = x;
          mx = fmaxf(mx, x);
        }
      // The row's 64 scores are spread over the 4 lanes of a quad.
      mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 2));
      const float alpha = common::online_softmax_rescale(st[i], mx);
      const float shift = common::online_softmax_shift(st[i]);
      float tile_sum = 0.0f;
      MAPET_UNROLL(64)
      for (int nb = 0; nb < kTile / 8; ++nb)
        MAPET_UNROLL(64)
        for (int e = 0; e < 2; ++e) {
          const float p = common::fast_exp(sc[nb][2 * i + e] - shift);
          sc[nb][2 * i + e] = p;
          tile_sum += p;
        }
      sum[i] = sum[i] * alpha + tile_sum;
      MAPET_UNROLL(64)
      for (int cb = 0; cb < DP / 8; ++cb) o[cb][2 * i] *= alpha, o[cb][2 * i + 1] *= alpha;
    }
    product_nn<DP, kTile>(o, sc, sv, stage, lane);
  });

  float inv[2];
  MAPET_UNROLL(64)
  for (int i = 0; i < 2; ++i) {
    sum[i] += __shfl_xor_sync(kFull, sum[i], 1);
    sum[i] += __shfl_xor_sync(kFull, sum[i], 2);
    st[i].sum = sum[i];
    inv[i] = common::online_softmax_inv_sum(st[i]);
    const int r = wrow + g + 8 * i;
    if (t == 0 && r < Tq) lse[static_cast<int64_t>(blockIdx.y) * Tq + r] = common::online_softmax_lse(st[i]);
  }
  store_rows<DP>(head(out, b, h), out.row_stride, o, wrow, Tq, d, inv, lane);
}

// ---------------------------------------------------------------------------
// Backward, pass 1: dQ, per block of 64 query rows.

template <int DP, bool kBf16>
__global__ void __launch_bounds__(kThreads)
    interval_attention_dq_kernel(IntervalAttentionShape s, HeadsView q, HeadsView k, HeadsView v, HeadsView out,
                                 const float* lse, HeadsView dout, OutHeadsView dq, bool vec4) {
  using T = typename Smem<kBf16>::T;
  constexpr int LD = pitch<DP, kBf16>();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  MAPET_DYNAMIC_SMEM(T, sq);  // [64][LD] each: Q, dO, K, V; then D [64]; then (f32) staging
  T* sdo = sq + kTile * LD;
  T* sk = sdo + kTile * LD;
  T* sv = sk + kTile * LD;
  float* sd = reinterpret_cast<float*>(sv + kTile * LD);
  float* stage = sd + kTile + warp * 16 * (kTile + 4);
  const int H = static_cast<int>(s.H), b = blockIdx.y / H, h = blockIdx.y % H, row0 = blockIdx.x * kTile;
  const int Tq = static_cast<int>(s.Tq), d = static_cast<int>(s.d);
  const int num_real = static_cast<int>(s.num_real), num_mask = static_cast<int>(s.Tk - s.num_real);
  const float *kb = head(k, b, h), *vb = head(v, b, h), *dob = head(dout, b, h);

  load_tile<DP, kTile, kBf16>(sq, head(q, b, h), q.row_stride, row0, Tq, d, vec4);
  load_tile<DP, kTile, kBf16>(sdo, dob, dout.row_stride, row0, Tq, d, vec4);
  row_dots<kTile, kBf16>(sd, dob, dout.row_stride, head(out, b, h), out.row_stride, row0, Tq, d);

  const int wrow = row0 + warp * 16;
  const RowMask rm[2] = {row_mask(s, wrow + g, num_mask), row_mask(s, wrow + g + 8, num_mask)};
  const KeyRanges wu = merge(warp_union(rm[0], num_real, num_mask), warp_union(rm[1], num_real, num_mask));
  const KeyRanges bu = merge(warp_union(row_mask(s, row0 + lane, num_mask), num_real, num_mask),
                             warp_union(row_mask(s, row0 + lane + 32, num_mask), num_real, num_mask));
  const float* lse_bh = lse + static_cast<int64_t>(blockIdx.y) * Tq;
  float row_lse[2], row_d[2];
  __syncthreads();  // D is in shared memory
  MAPET_UNROLL(64)
  for (int i = 0; i < 2; ++i) {
    const int r = wrow + g + 8 * i;
    row_lse[i] = r < Tq ? lse_bh[r] : 0.0f;
    row_d[i] = sd[warp * 16 + g + 8 * i];
  }

  float acc[DP / 8][4] = {};
  for_each_key_tile(bu, num_mask, [&](bool mask_segment, int lo) {
    const int64_t seg0 = mask_segment ? num_real : 0;
    const int n = mask_segment ? num_mask : num_real;
    __syncthreads();
    load_tile<DP, kTile, kBf16>(sk, kb + seg0 * k.row_stride, k.row_stride, lo, n, d, vec4);
    load_tile<DP, kTile, kBf16>(sv, vb + seg0 * v.row_stride, v.row_stride, lo, n, d, vec4);
    __syncthreads();
    if (!sees(wu, mask_segment, lo, kTile, num_mask)) return;

    float p[kTile / 8][4], ds[kTile / 8][4];
    product_nt<DP, kTile>(p, sq + warp * 16 * LD, sk, lane);
    MAPET_UNROLL(64)
    for (int i = 0; i < 2; ++i) {
      const KeyInterval iv =
          common::row_key_interval(mask_segment, rm[i].real_end, rm[i].mask_start, num_real, num_mask);
      MAPET_UNROLL(64)
      for (int nb = 0; nb < kTile / 8; ++nb)
        MAPET_UNROLL(64)
        for (int e = 0; e < 2; ++e) {
          float& x = p[nb][2 * i + e];
          x = common::key_visible(lo + nb * 8 + 2 * t + e, iv) ? common::attention_prob(x, s.scale, row_lse[i]) : 0.0f;
        }
    }
    product_nt<DP, kTile>(ds, sdo + warp * 16 * LD, sv, lane);  // dP
    MAPET_UNROLL(64)
    for (int nb = 0; nb < kTile / 8; ++nb)
      MAPET_UNROLL(64)
      for (int e = 0; e < 4; ++e) ds[nb][e] = common::attention_score_grad(p[nb][e], ds[nb][e], row_d[e / 2], s.scale);
    product_nn<DP, kTile>(acc, ds, sk, stage, lane);  // dQ += dS K
  });

  const float one[2] = {1.0f, 1.0f};
  store_rows<DP>(head(dq, b, h), dq.row_stride, acc, wrow, Tq, d, one, lane);
}

// ---------------------------------------------------------------------------
// Backward, pass 2: dK and dV, per tile of 64 keys (blockIdx.x: the real
// segment's tiles, then the mask segment's). A warp owns 16 keys; the products
// are the transposed ones: S^T = K Q^T, dP^T = V dO^T, so that P^T and dS^T
// come out as the A operands of dV += P^T dO and dK += dS^T Q.

template <int DP>
constexpr int dkdv_rows() {
  return DP > 64 ? 32 : 64;  // query rows per step: keeps S^T, dP^T, dK and dV in registers
}

template <int DP, bool kBf16>
__global__ void __launch_bounds__(kThreads)
    interval_attention_dkdv_kernel(IntervalAttentionShape s, HeadsView q, HeadsView k, HeadsView v, HeadsView out,
                                   const float* lse, HeadsView dout, OutHeadsView dk, OutHeadsView dv,
                                   int real_tiles, bool vec4) {
  using T = typename Smem<kBf16>::T;
  constexpr int LD = pitch<DP, kBf16>(), R = dkdv_rows<DP>();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  MAPET_DYNAMIC_SMEM(T, sk);  // K, V [64][LD]; Q, dO [R][LD]; lse, D, real_end, mask_start [R]; (f32) staging
  T* sv = sk + kTile * LD;
  T* sq = sv + kTile * LD;
  T* sdo = sq + R * LD;
  float* slse = reinterpret_cast<float*>(sdo + R * LD);
  float* sd = slse + R;
  int* sre = reinterpret_cast<int*>(sd + R);
  int* sms = sre + R;
  float* stage = reinterpret_cast<float*>(sms + R) + warp * 16 * (R + 4);
  const int H = static_cast<int>(s.H), b = blockIdx.y / H, h = blockIdx.y % H;
  const int Tq = static_cast<int>(s.Tq), d = static_cast<int>(s.d);
  const int num_real = static_cast<int>(s.num_real), num_mask = static_cast<int>(s.Tk - s.num_real);
  const bool mask_segment = static_cast<int>(blockIdx.x) >= real_tiles;
  const int n = mask_segment ? num_mask : num_real;
  const int lo = mask_segment ? num_mask - (static_cast<int>(gridDim.x - blockIdx.x)) * kTile
                              : static_cast<int>(blockIdx.x) * kTile;
  const int64_t seg0 = mask_segment ? num_real : 0;
  const float *qb = head(q, b, h), *dob = head(dout, b, h), *ob = head(out, b, h);
  const float* lse_bh = lse + static_cast<int64_t>(blockIdx.y) * Tq;

  load_tile<DP, kTile, kBf16>(sk, head(k, b, h) + seg0 * k.row_stride, k.row_stride, lo, n, d, vec4);
  load_tile<DP, kTile, kBf16>(sv, head(v, b, h) + seg0 * v.row_stride, v.row_stride, lo, n, d, vec4);
  const int wkey = lo + warp * 16;  // the warp's first key (segment-local); this lane's: wkey + g, + 8

  float dka[DP / 8][4] = {}, dva[DP / 8][4] = {};
  for (int row0 = 0; row0 < Tq; row0 += R) {
    // The keys some row of this step sees; skip the step if none of this tile's.
    KeyRanges u = warp_union(row_mask(s, row0 + lane, num_mask), num_real, num_mask);
    if (R > 32) u = merge(u, warp_union(row_mask(s, row0 + lane + 32, num_mask), num_real, num_mask));
    if (!sees(u, mask_segment, lo, kTile, num_mask)) continue;  // the same in every thread
    __syncthreads();  // the previous step's tiles are read
    load_tile<DP, R, kBf16>(sq, qb, q.row_stride, row0, Tq, d, vec4);
    load_tile<DP, R, kBf16>(sdo, dob, dout.row_stride, row0, Tq, d, vec4);
    row_dots<R, kBf16>(sd, dob, dout.row_stride, ob, out.row_stride, row0, Tq, d);
    if (threadIdx.x < R) {
      const int r = row0 + threadIdx.x;
      const RowMask m = row_mask(s, r, num_mask);
      sre[threadIdx.x] = m.real_end;
      sms[threadIdx.x] = m.mask_start;
      slse[threadIdx.x] = r < Tq ? lse_bh[r] : 0.0f;
    }
    __syncthreads();
    if (!sees(u, mask_segment, wkey, 16, num_mask)) continue;

    float p[R / 8][4], ds[R / 8][4];
    product_nt<DP, R>(p, sk + warp * 16 * LD, sq, lane);  // S^T: rows are keys, columns query rows
    MAPET_UNROLL(64)
    for (int nb = 0; nb < R / 8; ++nb)
      MAPET_UNROLL(64)
      for (int e = 0; e < 2; ++e) {
        const int r = nb * 8 + 2 * t + e;
        const KeyInterval iv = common::row_key_interval(mask_segment, sre[r], sms[r], num_real, num_mask);
        MAPET_UNROLL(64)
        for (int i = 0; i < 2; ++i) {
          float& x = p[nb][2 * i + e];
          x = common::key_visible(wkey + g + 8 * i, iv) ? common::attention_prob(x, s.scale, slse[r]) : 0.0f;
        }
      }
    product_nn<DP, R>(dva, p, sdo, stage, lane);               // dV += P^T dO
    product_nt<DP, R>(ds, sv + warp * 16 * LD, sdo, lane);      // dP^T
    MAPET_UNROLL(64)
    for (int nb = 0; nb < R / 8; ++nb)
      MAPET_UNROLL(64)
      for (int e = 0; e < 4; ++e)
        ds[nb][e] = common::attention_score_grad(p[nb][e], ds[nb][e], sd[nb * 8 + 2 * t + e % 2], s.scale);
    product_nn<DP, R>(dka, ds, sq, stage, lane);                // dK += dS^T Q
  }

  const float one[2] = {1.0f, 1.0f};
  store_rows<DP>(head(dk, b, h) + seg0 * dk.row_stride, dk.row_stride, dka, wkey, n, d, one, lane);
  store_rows<DP>(head(dv, b, h) + seg0 * dv.row_stride, dv.row_stride, dva, wkey, n, d, one, lane);
}

// ---------------------------------------------------------------------------
// Host side.

template <int DP, bool kBf16>
constexpr size_t tile_bytes(int rows) {
  return static_cast<size_t>(rows) * pitch<DP, kBf16>() * sizeof(typename Smem<kBf16>::T);
}

// Calls f(std::integral_constant<int, DP>) for the padded head dim of d.
template <class F>
void with_padded_dim(int64_t d, F&& f) {
  if (d < 1 || d > 128)
    throw std::invalid_argument("cuda::interval_attention: head dim " + std::to_string(d) + " outside 1..128");
  if (d <= 32)
    f(std::integral_constant<int, 32>{});
  else if (d <= 64)
    f(std::integral_constant<int, 64>{});
  else
    f(std::integral_constant<int, 128>{});
}

void check_shape(const IntervalAttentionShape& s) {
  if (s.B * s.H > 65535 || s.Tq > (int64_t(1) << 30) || s.Tk > (int64_t(1) << 30) || s.num_real < 0 ||
      s.num_real > s.Tk)
    throw std::invalid_argument("cuda::interval_attention: B*H " + std::to_string(s.B * s.H) + ", Tq " +
                                std::to_string(s.Tq) + ", Tk " + std::to_string(s.Tk) + ", num_real " +
                                std::to_string(s.num_real) + " out of range");
}

// Can the tiles be loaded 16 bytes at a time? (Rows 16-byte aligned, d a multiple of 4.)
bool vec4_loads(int64_t d, std::initializer_list<HeadsView> views) {
  bool ok = d % 4 == 0;
  for (const HeadsView& x : views)
    ok = ok && reinterpret_cast<uintptr_t>(x.data) % 16 == 0 && x.batch_stride % 4 == 0 && x.head_stride % 4 == 0 &&
         x.row_stride % 4 == 0;
  return ok;
}

template <int DP, bool kBf16>
void forward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v, OutHeadsView out, float* lse,
             cudaStream_t stream) {
  const size_t smem = 3 * tile_bytes<DP, kBf16>(kTile) + stage_floats<kBf16, kTile>() * sizeof(float);
  if (smem > 48 * 1024) MAPET_SET_MAX_DYNAMIC_SMEM((interval_attention_forward_kernel<DP, kBf16>), smem);
  const dim3 grid(static_cast<unsigned>((s.Tq + kTile - 1) / kTile), static_cast<unsigned>(s.B * s.H));
  MAPET_LAUNCH((interval_attention_forward_kernel<DP, kBf16>), grid, kThreads, smem, stream, s, q, k, v, out, lse,
               vec4_loads(s.d, {q, k, v}));
}

template <int DP, bool kBf16>
void backward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v, HeadsView out, const float* lse,
              HeadsView dout, OutHeadsView dq, OutHeadsView dk, OutHeadsView dv, cudaStream_t stream) {
  const unsigned bh = static_cast<unsigned>(s.B * s.H);
  const bool vec4 = vec4_loads(s.d, {q, k, v, dout});
  const size_t dq_smem = 4 * tile_bytes<DP, kBf16>(kTile) + kTile * sizeof(float) +
                         stage_floats<kBf16, kTile>() * sizeof(float);
  if (dq_smem > 48 * 1024) MAPET_SET_MAX_DYNAMIC_SMEM((interval_attention_dq_kernel<DP, kBf16>), dq_smem);
  if (s.Tq > 0)
    MAPET_LAUNCH((interval_attention_dq_kernel<DP, kBf16>), dim3(static_cast<unsigned>((s.Tq + kTile - 1) / kTile), bh),
                 kThreads, dq_smem, stream, s, q, k, v, out, lse, dout, dq, vec4);

  constexpr int R = dkdv_rows<DP>();
  const int real_tiles = static_cast<int>((s.num_real + kTile - 1) / kTile);
  const int mask_tiles = static_cast<int>((s.Tk - s.num_real + kTile - 1) / kTile);
  if (real_tiles + mask_tiles == 0) return;
  const size_t kv_smem = 2 * tile_bytes<DP, kBf16>(kTile) + 2 * tile_bytes<DP, kBf16>(R) + 4 * R * sizeof(float) +
                         stage_floats<kBf16, R>() * sizeof(float);
  if (kv_smem > 48 * 1024) MAPET_SET_MAX_DYNAMIC_SMEM((interval_attention_dkdv_kernel<DP, kBf16>), kv_smem);
  MAPET_LAUNCH((interval_attention_dkdv_kernel<DP, kBf16>), dim3(static_cast<unsigned>(real_tiles + mask_tiles), bh),
               kThreads, kv_smem, stream, s, q, k, v, out, lse, dout, dk, dv, real_tiles, vec4);
}

}  // namespace

void interval_attention_forward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                OutHeadsView out, float* lse, AttentionPrecision precision, void* stream) {
  check_shape(s);
  if (s.B * s.H == 0 || s.Tq == 0) return;
  const auto st = static_cast<cudaStream_t>(stream);
  with_padded_dim(s.d, [&](auto dp) {
    if (precision == AttentionPrecision::bf16)
      forward<decltype(dp)::value, true>(s, q, k, v, out, lse, st);
    else
      forward<decltype(dp)::value, false>(s, q, k, v, out, lse, st);
  });
}

void interval_attention_backward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                 HeadsView out, const float* lse, HeadsView dout, OutHeadsView dq, OutHeadsView dk,
                                 OutHeadsView dv, AttentionPrecision precision, void* stream) {
  check_shape(s);
  if (s.B * s.H == 0 || (s.Tq == 0 && s.Tk == 0)) return;
  const auto st = static_cast<cudaStream_t>(stream);
  with_padded_dim(s.d, [&](auto dp) {
    if (precision == AttentionPrecision::bf16)
      backward<decltype(dp)::value, true>(s, q, k, v, out, lse, dout, dq, dk, dv, st);
    else
      backward<decltype(dp)::value, false>(s, q, k, v, out, lse, dout, dq, dk, dv, st);
  });
}

}  // namespace mapet::cuda
