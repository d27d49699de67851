// Nearest-centroid assignment (kernels/cuda/assign.cuh) in the CUDA dialect.
//
// Tables (assign_centroids): two small kernels centre the centroids on their
// mean, round them to bf16 in rows padded to a multiple of 32 dimensions, and
// measure the norms the error bound needs (kernels/common/assign.h). Maxima go
// through integer atomics on the bits of non-negative doubles, which order
// like the doubles: the tables are the same bits whatever the thread order.
//
// The sweep (assign_kernel): a block owns 64 rows of x. It centres and rounds
// them into shared memory once, with each row's margin, then streams the
// centroids through two cp.async stages of 128 centroids x 32 dimensions;
// 8 warps (2 x 4, warp tile 32 rows x 32 centroids) multiply them on tensor
// cores (mma.sync m16n8k16). After each 128-centroid tile the scores
// c2 - 2 x.c update each row's best score, and every centroid within the
// margin of the best is appended to the row's candidate list in shared memory
// (compacted as the best improves). At the end one warp per row re-ranks its
// candidates in float64. A row with more candidates than its list holds
// (duplicated centroids, exact ties) is settled by a second sweep that
// re-ranks each candidate as it comes: slow, rare, exact.
#include "kernels/cuda/dialect.cuh"
#include "kernels/cuda/assign.cuh"

#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/assign.h"
#include "kernels/common/bf16.h"

namespace mapet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kRows = 64;    // rows of x per block
constexpr int kCents = 128;  // centroids per tile
constexpr int kBK = 32;      // dimensions per pipeline stage
constexpr int kPad = 8;      // bf16 per shared row: the 8 rows of an ldmatrix land in distinct banks
constexpr int kCap = 64;     // candidates per row
constexpr int kStageStride = kBK + kPad;
constexpr int64_t kMaxSmem = 227 * 1024;
// The margin's accumulation length: tensor cores sum in f32 with truncation
// and block alignment (Fasi et al., "Numerical behavior of NVIDIA tensor
// cores", 2021), worse than the round-to-nearest chain the bound assumes;
// four times the length covers that with room. (The bf16 rounding of x and c
// dominates the margin anyway.)
constexpr int64_t kMarginLength = 4;

enum RowState { kSkip = 1, kBad = 2, kOverflow = 4 };  // kSkip: no sweep (past n, or non-finite)

struct Header {
  unsigned long long max_rounded, max_error, max_c2;  // bits of non-negative doubles
  int bad;                                            // the first centroid with a non-finite value; INT_MAX: none
  int unused;
};

struct Tables {
  Header* h;
  float* mean;       // [d_pad], 0 past d
  float* c2;         // [k_pad] ||c - mean||^2, +inf for the padding
  uint16_t* packed;  // [k_pad][d_pad] bf16 of c - mean, 0 past k and d
  float* c;          // [k][d] the centroids as given (the re-rank reads them)
  int k, d, k_pad, d_pad;
};

__device__ __forceinline__ bool finite(double v) { return v - v == 0.0; }  // false for inf and NaN

__device__ __forceinline__ double warp_sum(double v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;  // the same bits in every lane
}

// ------------------------------------------------------------------ tables

// mean[col] in float64 over the k centroids; block (32 columns x 8 row groups).
__global__ void __launch_bounds__(kThreads) mean_kernel(const float* __restrict__ c, Tables t) {
  __shared__ double part[8][32];
  const int tx = threadIdx.x % 32, ty = threadIdx.x / 32, col = blockIdx.x * 32 + tx;
  double s = 0;
  if (col < t.d)
    for (int j = ty; j < t.k; j += 8) s += c[int64_t(j) * t.d + col];
  part[ty][tx] = s;
  __syncthreads();
  if (ty == 0) {
    for (int r = 1; r < 8; ++r) s += part[r][tx];
    const float m = col < t.d ? static_cast<float>(s / t.k) : 0.0f;
    t.mean[col] = finite(m) ? m : 0.0f;  // a non-finite centroid is refused anyway (Header::bad)
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) *t.h = Header{0, 0, 0, INT_MAX, 0};
}

// One warp per centroid (of k_pad): centre, round to bf16, norms.
__global__ void __launch_bounds__(kThreads) pack_kernel(const float* __restrict__ c, Tables t) {
  const int lane = threadIdx.x % 32, j = blockIdx.x * (kThreads / 32) + threadIdx.x / 32;
  uint16_t* row = t.packed + int64_t(j) * t.d_pad;
  double exact = 0, rounded = 0, error = 0;
  for (int i = lane; i < t.d_pad; i += 32) {
    uint16_t b = 0;
    if (j < t.k && i < t.d) {  // as cpu::AssignCentroids: v - mu in f32, rounded; the norms in float64
      const float v = c[int64_t(j) * t.d + i], mu = t.mean[i];
      const double e = double(v) - double(mu);
      b = common::float_to_bf16(v - mu);
      const double r = common::bf16_to_float(b);
      exact += e * e, rounded += r * r, error += (r - e) * (r - e);
      t.c[int64_t(j) * t.d + i] = v;
    }
    row[i] = b;
  }
  exact = warp_sum(exact), rounded = warp_sum(rounded), error = warp_sum(error);
  if (lane != 0) return;
  if (j >= t.k) {
    t.c2[j] = INFINITY;
    return;
  }
  const double ex = sqrt(exact), ro = sqrt(rounded), er = sqrt(error);
  const float c2 = static_cast<float>(ex * ex);
  if (!finite(ro) || !finite(er) || !finite(c2)) {
    t.c2[j] = INFINITY;
    atomicMin(&t.h->bad, j);
    return;
  }
  t.c2[j] = c2;
  atomicMax(&t.h->max_rounded, static_cast<unsigned long long>(__double_as_longlong(ro)));
  atomicMax(&t.h->max_error, static_cast<unsigned long long>(__double_as_longlong(er)));
  atomicMax(&t.h->max_c2, static_cast<unsigned long long>(__double_as_longlong(ex * ex)));
}

// ------------------------------------------------------------------- sweep

// All centroid tiles against the block's rows: cp.async stages of 128 x 32,
// one pipeline across tiles (the next tile's first stage loads while this
// tile's scores are taken). epilogue(tile, acc) after each tile's last stage,
// called by every thread (it may hold barriers).
template <class Epilogue>
__device__ __forceinline__ void sweep(const Tables& t, const uint16_t* xs, int xs_stride, uint16_t* cs,
                                      Epilogue&& epilogue) {
  const int warp = threadIdx.x / 32, wm = warp / 4, wn = warp % 4;
  const int lane = threadIdx.x % 32, r = lane % 8, mat = lane / 8;
  const int chunks = t.d_pad / kBK, stages = t.k_pad / kCents * chunks;
  auto issue = [&](int s) {  // 128 rows of 64 bytes: two 16-byte chunks per thread, never out of bounds
    uint16_t* dst = cs + (s % 2) * kCents * kStageStride;
    const uint16_t* src = t.packed + int64_t(s / chunks) * kCents * t.d_pad + (s % chunks) * kBK;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int ch = threadIdx.x + i * kThreads, row = ch / 4, col = (ch % 4) * 8;
      cp_async_16(dst + row * kStageStride + col, src + int64_t(row) * t.d_pad + col);
    }
    cp_async_commit();
  };

  float acc[2][4][4] = {};
  issue(0);
  for (int s = 0; s < stages; ++s) {
    const int kc = s % chunks;
    cp_async_wait<0>();
    __syncthreads();  // stage s is everyone's; buffer (s + 1) % 2 is free
    if (s + 1 < stages) issue(s + 1);
    const uint16_t* b = cs + (s % 2) * kCents * kStageStride;
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      uint32_t af[2][4], bf[4][2];
#pragma unroll
      for (int i = 0; i < 2; ++i)
        ldmatrix_x4(af[i], xs + (wm * 32 + i * 16 + (mat % 2) * 8 + r) * xs_stride + kc * kBK + kk + (mat / 2) * 8);
#pragma unroll
      for (int j = 0; j < 4; j += 2) {  // centroids are B's columns, stored K-contiguous: no .trans
        uint32_t u[4];
        ldmatrix_x4(u, b + (wn * 32 + j * 8 + (mat / 2) * 8 + r) * kStageStride + kk + (mat % 2) * 8);
        bf[j][0] = u[0], bf[j][1] = u[1], bf[j + 1][0] = u[2], bf[j + 1][1] = u[3];
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_m16n8k16_bf16_f32(acc[i][j], af[i], bf[j], acc[i][j]);
    }
    if (kc == chunks - 1) {
      epilogue(s / chunks, acc);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
    }
  }
}

// Squared distance in float64, one warp (the same bits in every lane) or one thread.
__device__ __forceinline__ double dist64_warp(const float* x, const float* c, int d) {
  double s = 0;
  for (int i = threadIdx.x % 32; i < d; i += 32) {
    const double t = double(x[i]) - double(c[i]);
    s += t * t;
  }
  return warp_sum(s);
}
__device__ __forceinline__ double dist64_thread(const float* x, const float* c, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) {
    const double t = double(x[i]) - double(c[i]);
    s += t * t;
  }
  return s;
}

size_t smem_bytes(int64_t d_pad) {
  return 4 * kRows * (sizeof(double) + sizeof(int))  // pass-2 bests per warp column
         + kRows * (d_pad + kPad) * 2                // the rows, bf16
         + 2 * kCents * kStageStride * 2             // centroid stages
         + kRows * kCap * (sizeof(int) + sizeof(float))  // candidates
         + 4 * kRows * sizeof(float)                 // tile minima per warp column
         + kRows * 4 * 4;                            // margin, best, count, state
}

__global__ void __launch_bounds__(kThreads, 1) assign_kernel(Tables t, const float* __restrict__ x, int64_t n,
                                                          int64_t* __restrict__ ids, float* __restrict__ dist) {
  MAPET_DYNAMIC_SMEM(unsigned char, smem);
  const int xs_stride = t.d_pad + kPad;
  double* best_d = reinterpret_cast<double*>(smem);                         // [4][kRows]
  uint16_t* xs = reinterpret_cast<uint16_t*>(best_d + 4 * kRows);           // [kRows][xs_stride]
  uint16_t* cs = xs + kRows * xs_stride;                                    // [2][kCents][kStageStride]
  int* cand_id = reinterpret_cast<int*>(cs + 2 * kCents * kStageStride);    // [kRows][kCap]
  float* cand_score = reinterpret_cast<float*>(cand_id + kRows * kCap);     // [kRows][kCap]
  int* best_i = reinterpret_cast<int*>(cand_score + kRows * kCap);          // [4][kRows]
  float* warp_min = reinterpret_cast<float*>(best_i + 4 * kRows);           // [4][kRows]
  float* margin = warp_min + 4 * kRows;                                     // [kRows]
  float* row_best = margin + kRows;                                         // [kRows]
  int* count = reinterpret_cast<int*>(row_best + kRows);                    // [kRows]
  int* state = count + kRows;                                               // [kRows]

  const int64_t r0 = int64_t(blockIdx.x) * kRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, wm = warp / 4, wn = warp % 4, g = lane / 4, q = lane % 4;
  const float kNaN = __int_as_float(0x7fc00000);
  const Header h = *t.h;
  if (h.bad != INT_MAX) {  // a centroid with a non-finite value: no row has an answer
    for (int r = threadIdx.x; r < kRows; r += kThreads)
      if (r0 + r < n) {
        ids[r0 + r] = -1;
        if (dist) dist[r0 + r] = kNaN;
      }
    return;
  }

  // The rows: centred, rounded to bf16 into shared memory; each row's margin.
  const common::AssignNorms cn{0.0, __longlong_as_double(h.max_rounded), __longlong_as_double(h.max_error)};
  const double max_c2 = __longlong_as_double(h.max_c2);
  for (int r = warp; r < kRows; r += kThreads / 32) {
    const bool real = r0 + r < n;
    const float* xr = x + (r0 + r) * t.d;
    uint16_t* row = xs + r * xs_stride;
    double exact = 0, rounded = 0, error = 0;
    for (int i = lane; i < t.d_pad; i += 32) {
      uint16_t b = 0;
      if (real && i < t.d) {
        const float v = xr[i], mu = t.mean[i];
        const double e = double(v) - double(mu);
        b = common::float_to_bf16(v - mu);
        const double rr = common::bf16_to_float(b);
        exact += e * e, rounded += rr * rr, error += (rr - e) * (rr - e);
      }
      row[i] = b;
    }
    const common::AssignNorms xn{sqrt(warp_sum(exact)), sqrt(warp_sum(rounded)), sqrt(warp_sum(error))};
    const float m = static_cast<float>(common::assign_margin(xn, cn, max_c2, kMarginLength * t.d));
    const bool ok = finite(xn.rounded) && finite(xn.error) && finite(m);
    if (real && !ok)
      for (int i = lane; i < t.d_pad; i += 32) row[i] = 0;  // keep NaN and inf away from the mma
    if (lane == 0) {
      margin[r] = m, row_best[r] = INFINITY, count[r] = 0;
      state[r] = !real ? kSkip : ok ? 0 : kSkip | kBad;
    }
  }
  // (The sweep's first barrier publishes the rows.)

  // Pass 1: the running best per row and the candidates within its margin.
  float best[2][2];  // this thread's rows (i, hh): the same value in every thread that shares the row
  for (auto& b : best) b[0] = b[1] = INFINITY;
  sweep(t, xs, xs_stride, cs, [&](int tile, float (&acc)[2][4][4]) {
    float c2[4][2];
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) c2[j][e] = t.c2[tile * kCents + wn * 32 + j * 8 + 2 * q + e];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        float lo = INFINITY;
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& s = acc[i][j][2 * hh + e];
            s = fmaf(-2.0f, s, c2[j][e]);  // the score, as kernels/common/assign.h bounds it
            lo = fminf(lo, s);
          }
        lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, 1));
        lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, 2));
        if (q == 0) warp_min[wn * kRows + wm * 32 + i * 16 + hh * 8 + g] = lo;
      }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        const int row = wm * 32 + i * 16 + hh * 8 + g;
        if (state[row] & kSkip) continue;
        const float lo = fminf(fminf(warp_min[row], warp_min[kRows + row]),
                               fminf(warp_min[2 * kRows + row], warp_min[3 * kRows + row]));
        best[i][hh] = fminf(best[i][hh], lo);
        if (wn == 0 && q == 0) row_best[row] = best[i][hh];
        const float thr = best[i][hh] + margin[row];
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (acc[i][j][2 * hh + e] <= thr) {
              const int slot = atomicAdd(&count[row], 1);  // list order varies, the answer does not
              if (slot < kCap) {
                cand_id[row * kCap + slot] = tile * kCents + wn * 32 + j * 8 + 2 * q + e;
                cand_score[row * kCap + slot] = acc[i][j][2 * hh + e];
              }
            }
      }
    __syncthreads();
    // A list past half full drops what the improved best has left behind; a full one has lost candidates.
    if (threadIdx.x < kRows && !(state[threadIdx.x] & kSkip)) {
      const int row = threadIdx.x, cnt = count[row];
      if (cnt > kCap) {
        state[row] |= kOverflow;
      } else if (cnt > kCap / 2) {
        const float thr = row_best[row] + margin[row];
        int kept = 0;
        for (int e = 0; e < cnt; ++e)
          if (cand_score[row * kCap + e] <= thr) {
            cand_id[row * kCap + kept] = cand_id[row * kCap + e];
            cand_score[row * kCap + kept++] = cand_score[row * kCap + e];
          }
        count[row] = kept;
      }
    }
  });
  __syncthreads();

  // The re-rank: one warp per row, its candidates within the final margin, in float64.
  for (int r = warp; r < kRows; r += kThreads / 32) {
    const int64_t gr = r0 + r;
    if (state[r] & kBad) {
      if (lane == 0) ids[gr] = -1;
      if (lane == 0 && dist) dist[gr] = kNaN;
    }
    if (state[r] & (kSkip | kOverflow)) continue;
    const float thr = row_best[r] + margin[r];
    double bd = INFINITY;
    int bid = -1;
    for (int e = 0; e < count[r]; ++e) {
      if (!(cand_score[r * kCap + e] <= thr)) continue;
      const int id = cand_id[r * kCap + e];
      const double dd = dist64_warp(x + gr * t.d, t.c + int64_t(id) * t.d, t.d);
      if (common::assign_better(dd, id, bd, bid)) bd = dd, bid = id;
    }
    if (lane == 0) {
      ids[gr] = bid;
      if (dist) dist[gr] = static_cast<float>(bd);
    }
  }

  // Pass 2, for rows whose lists overflowed: the final margin is known, so
  // each candidate is re-ranked (by the thread that finds it) as it comes.
  if (!__syncthreads_or(threadIdx.x < kRows && (state[threadIdx.x] & kOverflow))) return;
  double bd[2][2];
  int bid[2][2];
  for (int i = 0; i < 2; ++i) bd[i][0] = bd[i][1] = INFINITY, bid[i][0] = bid[i][1] = -1;
  sweep(t, xs, xs_stride, cs, [&](int tile, float (&acc)[2][4][4]) {
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        const int row = wm * 32 + i * 16 + hh * 8 + g;
        if (!(state[row] & kOverflow)) continue;
        const float thr = row_best[row] + margin[row];
        for (int j = 0; j < 4; ++j)
          for (int e = 0; e < 2; ++e) {
            const int id = tile * kCents + wn * 32 + j * 8 + 2 * q + e;
            if (!(fmaf(-2.0f, acc[i][j][2 * hh + e], t.c2[id]) <= thr)) continue;
            const double dd = dist64_thread(x + (r0 + row) * t.d, t.c + int64_t(id) * t.d, t.d);
            if (common::assign_better(dd, id, bd[i][hh], bid[i][hh])) bd[i][hh] = dd, bid[i][hh] = id;
          }
      }
  });
  // Best of each row: over the quad, then over the four warp columns (the order does not matter: a total order).
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      for (int off = 1; off <= 2; off *= 2) {
        const double od = __shfl_xor_sync(0xffffffffu, bd[i][hh], off);
        const int oi = __shfl_xor_sync(0xffffffffu, bid[i][hh], off);
        if (oi >= 0 && common::assign_better(od, oi, bd[i][hh], bid[i][hh])) bd[i][hh] = od, bid[i][hh] = oi;
      }
      const int row = wm * 32 + i * 16 + hh * 8 + g;
      if (q == 0) best_d[wn * kRows + row] = bd[i][hh], best_i[wn * kRows + row] = bid[i][hh];
    }
  __syncthreads();
  if (threadIdx.x < kRows && (state[threadIdx.x] & kOverflow)) {
    const int row = threadIdx.x;
    double d0 = best_d[row];
    int i0 = best_i[row];
    for (int w = 1; w < 4; ++w) {
      const double dw = best_d[w * kRows + row];
      const int iw = best_i[w * kRows + row];
      if (iw >= 0 && (i0 < 0 || common::assign_better(dw, iw, d0, i0))) d0 = dw, i0 = iw;
    }
    ids[r0 + row] = i0;
    if (dist) dist[r0 + row] = static_cast<float>(d0);
  }
}

// ------------------------------------------------------------------- host

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

struct Layout {
  int64_t k_pad, d_pad, mean, c2, packed, c, bytes;  // byte offsets into the tables
};

Layout layout(int64_t k, int64_t d) {
  Layout l;
  l.k_pad = round_up(k, kCents), l.d_pad = round_up(d, kBK);
  l.mean = round_up(sizeof(Header), 16);
  l.c2 = l.mean + round_up(l.d_pad * 4, 16);
  l.packed = l.c2 + round_up(l.k_pad * 4, 16);
  l.c = l.packed + round_up(l.k_pad * l.d_pad * 2, 16);
  l.bytes = l.c + round_up(k * d * 4, 16);
  return l;
}

Tables tables_of(void* base, int64_t k, int64_t d) {
  const Layout l = layout(k, d);
  char* p = static_cast<char*>(base);
  return Tables{reinterpret_cast<Header*>(p), reinterpret_cast<float*>(p + l.mean), reinterpret_cast<float*>(p + l.c2),
                reinterpret_cast<uint16_t*>(p + l.packed), reinterpret_cast<float*>(p + l.c), static_cast<int>(k),
                static_cast<int>(d), static_cast<int>(l.k_pad), static_cast<int>(l.d_pad)};
}

void check_sizes(int64_t k, int64_t d) {
  if (k < 1 || d < 1 || k >= (int64_t(1) << 31) - kCents || d > assign_max_dim())
    throw std::invalid_argument("cuda::assign: need 1 <= k < 2^31 centroids of 1 <= d <= " +
                                std::to_string(assign_max_dim()) + " dimensions, got k=" + std::to_string(k) +
                                ", d=" + std::to_string(d));
}

}  // namespace

int64_t assign_max_dim() {
  const int64_t fixed = static_cast<int64_t>(smem_bytes(0));  // includes the rows' padding
  return (kMaxSmem - fixed) / (kRows * 2) / kBK * kBK;
}

size_t assign_centroids_bytes(int64_t k, int64_t d) {
  check_sizes(k, d);
  return static_cast<size_t>(layout(k, d).bytes);
}

AssignCentroids assign_centroids(const float* c, int64_t k, int64_t d, void* tables, void* stream) {
  check_sizes(k, d);
  const Tables t = tables_of(tables, k, d);
  const auto st = static_cast<cudaStream_t>(stream);
  MAPET_LAUNCH(mean_kernel, t.d_pad / 32, kThreads, 0, st, c, t);
  MAPET_LAUNCH(pack_kernel, t.k_pad / (kThreads / 32), kThreads, 0, st, c, t);
  return AssignCentroids{k, d, tables};
}

void assign(const AssignCentroids& c, const float* x, int64_t n, int64_t* ids, float* dist, void* stream) {
  check_sizes(c.k, c.d);
  if (n <= 0) return;
  const Tables t = tables_of(c.tables, c.k, c.d);
  const size_t smem = smem_bytes(t.d_pad);
  if (smem > 48 * 1024) MAPET_SET_MAX_DYNAMIC_SMEM(assign_kernel, smem);
  MAPET_LAUNCH(assign_kernel, static_cast<unsigned>((n + kRows - 1) / kRows), kThreads, smem,
               static_cast<cudaStream_t>(stream), t, x, n, ids, dist);
}

}  // namespace mapet::cuda
