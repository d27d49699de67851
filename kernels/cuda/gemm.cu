// GEMM kernels (kernels/cuda/gemm.cuh) in the CUDA dialect.
//
// Tensor cores (gemm_tc): a 128 x 128 tile of C per block of 8 warps (2 x 4),
// each warp 64 x 32 of it as 4 x 4 mma.sync m16n8k16 tiles with f32
// accumulators. K advances 32 at a time through two shared-memory stages:
// while the warps multiply one, the next is in flight. Each operand is staged
// as it is stored (16-byte chunks along its contiguous dimension: coalesced
// whatever the transposes) and ldmatrix, .trans where the stored layout is
// K-major, turns it into fragments. The copy is cp.async for bf16 operands
// whose rows are 16-byte aligned (zero-filled past the edges), and goes
// through registers otherwise: f32 operands (rounded to bf16 on the way) and
// bf16 ones with odd leading dimensions.
//
// CUDA cores (gemm_fma): the classic 128 x 128 x 8 tile, 256 threads of 8 x 8
// outputs each, staged through registers into two shared-memory stages (K-major,
// so each thread reads its 8 + 8 operands as four float4).
//
// Both end in the same epilogue: alpha, beta C (never read when beta = 0),
// bias, GELU, then vector stores where C's rows allow.
//
// The twins' entry points (gemm, gemm_bf16: what the engine's ops call) run
// cuBLASLt in the GPU build (kernels/cuda/cublaslt_gemm.h: f32 products, or
// bf16 with f32 sums), unless MAPET_GEMM=own; under simt, and with
// MAPET_GEMM=own, these kernels.
#include "kernels/cuda/dialect.cuh"
#include "kernels/cuda/gemm.cuh"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/common/math.h"
#if !defined(MAPET_SIMT) && defined(MAPET_HAVE_CUBLASLT)
#define MAPET_GEMM_CUBLASLT 1
#include "kernels/cuda/cublaslt_gemm.h"
#endif

namespace mapet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kBM = 128, kBN = 128;  // the C tile of a block, both kernels

struct Params {
  const void* a;
  const void* b;
  float* c;
  int64_t lda, ldb, ldc, stride_a, stride_b, stride_c;
  int m, n, k;
  float alpha, beta;
  const float* bias;
  bool gelu;
  bool a_fast, b_fast;  // operand rows aligned for 16-byte copies (cp.async or float4)
  bool c_vec;           // C rows aligned for float2 (tc) / float4 (fma) stores
};

__device__ __forceinline__ float finish(const Params& p, const float* c, int col, float acc) {
  float v = p.alpha * acc;
  if (p.beta != 0.0f) v += p.beta * *c;
  if (p.bias) v += p.bias[col];
  return p.gelu ? common::gelu(v) : v;
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162_raw r = __floats2bfloat162_rn(lo, hi);  // cvt.rn.bf16x2.f32 on the GPU
  return static_cast<uint32_t>(r.x) | static_cast<uint32_t>(r.y) << 16;
}

// ------------------------------------------------------------ tensor cores

namespace tc {

constexpr int kBK = 32;
constexpr int kPad = 8;  // bf16 per shared row: the 8 rows of an ldmatrix land in distinct banks
constexpr int kStage = kBM * (kBK + kPad);  // bf16 per operand and stage, either layout
static_assert(kStage >= kBK * (kBM + kPad));

// One operand's 128 (M or N) x 32 (K) tile per stage, as stored: KC (K
// contiguous) -> shared [128][32 + 8]; otherwise -> shared [32][128 + 8].
// T: float (rounded here) or uint16_t (bf16 bits).
template <class T, bool KC>
struct Stager {
  static constexpr int kRows = KC ? kBM : kBK, kCols = KC ? kBK : kBM, kStride = kCols + kPad;
  static constexpr int kChunksPerRow = kCols / 8, kChunks = kRows * kChunksPerRow / kThreads;
  static constexpr bool kBf16 = std::is_same_v<T, uint16_t>;
  static_assert(kChunks * kThreads == kRows * kChunksPerRow);

  const T* p;
  int64_t ld;
  int rows, cols;  // stored extents
  bool fast;
  T v[kChunks][8] = {};  // the register path's chunks between issue() and store()

  // The tile at (x0 along M/N, k0): cp.async into s, or loads into registers.
  __device__ __forceinline__ void issue(uint16_t* s, int x0, int k0) {
    const int r0 = KC ? x0 : k0, c0 = KC ? k0 : x0;
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int ch = threadIdx.x + i * kThreads, r = ch / kChunksPerRow, cc = (ch % kChunksPerRow) * 8;
      const int gr = r0 + r, gc = c0 + cc;
      const int count = gr < rows ? min(max(cols - gc, 0), 8) : 0;
      const T* src = count > 0 ? p + gr * ld + gc : p;
      if constexpr (kBf16) {
        if (fast) {
          cp_async_16_zfill(s + r * kStride + cc, src, count * 2);
          continue;
        }
      } else {
        if (fast && count == 8) {
          const float4 lo = *reinterpret_cast<const float4*>(src), hi = *reinterpret_cast<const float4*>(src + 4);
          v[i][0] = lo.x, v[i][1] = lo.y, v[i][2] = lo.z, v[i][3] = lo.w;
          v[i][4] = hi.x, v[i][5] = hi.y, v[i][6] = hi.z, v[i][7] = hi.w;
          continue;
        }
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) v[i][j] = j < count ? src[j] : T(0);
    }
  }

  // The register path: the chunks of issue() into s, as bf16.
  __device__ __forceinline__ void store(uint16_t* s) const {
    if (kBf16 && fast) return;
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int ch = threadIdx.x + i * kThreads, r = ch / kChunksPerRow, cc = (ch % kChunksPerRow) * 8;
      uint4 u;
      if constexpr (kBf16) {
        u.x = v[i][0] | uint32_t(v[i][1]) << 16, u.y = v[i][2] | uint32_t(v[i][3]) << 16;
        u.z = v[i][4] | uint32_t(v[i][5]) << 16, u.w = v[i][6] | uint32_t(v[i][7]) << 16;
      } else {
        u.x = pack_bf16(v[i][0], v[i][1]), u.y = pack_bf16(v[i][2], v[i][3]);
        u.z = pack_bf16(v[i][4], v[i][5]), u.w = pack_bf16(v[i][6], v[i][7]);
      }
      *reinterpret_cast<uint4*>(s + r * kStride + cc) = u;
    }
  }
};

// One stage (K = 32) of the warp's 64 x 32: fragments by ldmatrix, 2 x 16 mma.
template <bool AKC, bool BKC>
__device__ __forceinline__ void mma_stage(const uint16_t* sa, const uint16_t* sb, int wm, int wn,
                                          float (&acc)[4][4][4]) {
  const int lane = threadIdx.x % 32, r = lane % 8, mat = lane / 8;  // ldmatrix: lane r of matrix mat gives its row
#pragma unroll
  for (int kk = 0; kk < kBK; kk += 16) {
    uint32_t af[4][4], bf[4][2];
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // A fragment: matrices (rows 0-7, k 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15)
      const int m = wm * 64 + i * 16;
      if constexpr (AKC)
        ldmatrix_x4(af[i], sa + (m + (mat % 2) * 8 + r) * (kBK + kPad) + kk + (mat / 2) * 8);
      else
        ldmatrix_x4_trans(af[i], sa + (kk + (mat / 2) * 8 + r) * (kBM + kPad) + m + (mat % 2) * 8);
    }
#pragma unroll
    for (int j = 0; j < 4; j += 2) {  // B fragments of two n8 tiles: (n 0-7, k 0-7), (0-7, 8-15), (8-15, 0-7), (8-15, 8-15)
      const int n = wn * 32 + j * 8;
      uint32_t t[4];
      if constexpr (BKC)
        ldmatrix_x4(t, sb + (n + (mat / 2) * 8 + r) * (kBK + kPad) + kk + (mat % 2) * 8);
      else
        ldmatrix_x4_trans(t, sb + (kk + (mat % 2) * 8 + r) * (kBN + kPad) + n + (mat / 2) * 8);
      bf[j][0] = t[0], bf[j][1] = t[1], bf[j + 1][0] = t[2], bf[j + 1][1] = t[3];
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) mma_m16n8k16_bf16_f32(acc[i][j], af[i], bf[j], acc[i][j]);
  }
}

// AKC: A stored [m][k] (not transposed); BKC: B stored [n][k] (transposed).
template <class T, bool AKC, bool BKC>
__global__ void __launch_bounds__(kThreads, 2) gemm_tc_kernel(Params p) {
  __shared__ __align__(16) uint16_t sa[2][kStage];
  __shared__ __align__(16) uint16_t sb[2][kStage];
  const int z = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int warp = threadIdx.x / 32, wm = warp / 4, wn = warp % 4;  // warp tile: rows wm * 64, cols wn * 32
  Stager<T, AKC> A{static_cast<const T*>(p.a) + z * p.stride_a, p.lda, AKC ? p.m : p.k, AKC ? p.k : p.m, p.a_fast};
  Stager<T, BKC> B{static_cast<const T*>(p.b) + z * p.stride_b, p.ldb, BKC ? p.n : p.k, BKC ? p.k : p.n, p.b_fast};

  float acc[4][4][4] = {};
  const int steps = (p.k + kBK - 1) / kBK;
  if (steps > 0) {
    A.issue(sa[0], m0, 0), B.issue(sb[0], n0, 0);
    cp_async_commit();
    A.store(sa[0]), B.store(sb[0]);
  }
  for (int s = 0; s < steps; ++s) {
    const int cur = s % 2, nxt = cur ^ 1;
    const bool more = s + 1 < steps;
    cp_async_wait<0>();  // stage s has landed (this thread's copies) ...
    __syncthreads();     // ... and everyone's; everyone is done with step s - 1, so buffer nxt is free
    if (more) {          // stage s + 1 in flight during the mma of stage s
      A.issue(sa[nxt], m0, (s + 1) * kBK), B.issue(sb[nxt], n0, (s + 1) * kBK);
      cp_async_commit();
    }
    mma_stage<AKC, BKC>(sa[cur], sb[cur], wm, wn, acc);
    if (more) A.store(sa[nxt]), B.store(sb[nxt]);  // the register path's loads, now they have arrived
  }

  // The C fragment: lane holds rows g, g + 8 and columns 2q, 2q + 1 of each 16 x 8 tile.
  float* c = p.c + z * p.stride_c;
  const int lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = m0 + wm * 64 + i * 16 + g + h * 8;
      if (row >= p.m) continue;
      float* cr = c + row * p.ldc;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int col = n0 + wn * 32 + j * 8 + 2 * q;
        if (col >= p.n) continue;
        const float v0 = finish(p, cr + col, col, acc[i][j][2 * h]);
        if (col + 1 < p.n) {
          const float v1 = finish(p, cr + col + 1, col + 1, acc[i][j][2 * h + 1]);
          if (p.c_vec) *reinterpret_cast<float2*>(cr + col) = float2{v0, v1};
          else cr[col] = v0, cr[col + 1] = v1;
        } else {
          cr[col] = v0;
        }
      }
    }
}

}  // namespace tc

// -------------------------------------------------------------- CUDA cores

namespace fma {

constexpr int kBK = 8;
constexpr int kStride = kBM + 4;  // floats per shared row: float4-aligned, and the transposed stores hit distinct banks

// One operand's 128 (M or N) x 8 (K) tile into shared [8][128 + 4] (K-major),
// four values per thread through registers. KC: stored with K contiguous.
template <bool KC>
struct Stager {
  const float* p;
  int64_t ld;
  int rows, cols;  // stored extents
  bool fast;
  float v[4] = {};

  __device__ __forceinline__ void load(int x0, int k0) {
    // KC: stored [x][k], thread t reads row x0 + t/2, columns k0 + (t%2)*4 ...; else stored [k][x], row k0 + t/32.
    const int t = threadIdx.x;
    const int gr = KC ? x0 + t / 2 : k0 + t / 32, gc = KC ? k0 + (t % 2) * 4 : x0 + (t % 32) * 4;
    const int count = gr < rows ? min(max(cols - gc, 0), 4) : 0;
    const float* src = count > 0 ? p + gr * ld + gc : p;
    if (fast && count == 4) {
      const float4 u = *reinterpret_cast<const float4*>(src);
      v[0] = u.x, v[1] = u.y, v[2] = u.z, v[3] = u.w;
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = j < count ? src[j] : 0.0f;
    }
  }

  __device__ __forceinline__ void store(float* s) const {
    const int t = threadIdx.x;
    if constexpr (KC) {
#pragma unroll
      for (int j = 0; j < 4; ++j) s[((t % 2) * 4 + j) * kStride + t / 2] = v[j];
    } else {
      *reinterpret_cast<float4*>(s + (t / 32) * kStride + (t % 32) * 4) = float4{v[0], v[1], v[2], v[3]};
    }
  }
};

template <bool AKC, bool BKC>
__global__ void __launch_bounds__(kThreads) gemm_fma_kernel(Params p) {
  __shared__ __align__(16) float sa[2][kBK * kStride];
  __shared__ __align__(16) float sb[2][kBK * kStride];
  const int z = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;  // rows ty*4 + {0..3, 64..67}, cols tx*4 + {0..3, 64..67}
  const float* pa = static_cast<const float*>(p.a) + z * p.stride_a;
  const float* pb = static_cast<const float*>(p.b) + z * p.stride_b;
  Stager<AKC> A{pa, p.lda, AKC ? p.m : p.k, AKC ? p.k : p.m, p.a_fast};
  Stager<BKC> B{pb, p.ldb, BKC ? p.n : p.k, BKC ? p.k : p.n, p.b_fast};

  float acc[8][8] = {};
  const int steps = (p.k + kBK - 1) / kBK;
  if (steps > 0) {
    A.load(m0, 0), B.load(n0, 0);
    A.store(sa[0]), B.store(sb[0]);
    __syncthreads();
  }
  for (int s = 0; s < steps; ++s) {
    const bool more = s + 1 < steps;
    if (more) A.load(m0, (s + 1) * kBK), B.load(n0, (s + 1) * kBK);  // in flight during the FMAs
    const float* a = sa[s % 2];
    const float* b = sb[s % 2];
#pragma unroll
    for (int k = 0; k < kBK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(a + k * kStride + ty * 4);
      const float4 a1 = *reinterpret_cast<const float4*>(a + k * kStride + 64 + ty * 4);
      const float4 b0 = *reinterpret_cast<const float4*>(b + k * kStride + tx * 4);
      const float4 b1 = *reinterpret_cast<const float4*>(b + k * kStride + 64 + tx * 4);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    // The other buffer was last read in step s - 1, before the barrier that ended it.
    if (more) A.store(sa[(s + 1) % 2]), B.store(sb[(s + 1) % 2]);
    __syncthreads();
  }

  float* c = p.c + z * p.stride_c;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int row = m0 + (i / 4) * 64 + ty * 4 + i % 4;
    if (row >= p.m) continue;
    float* cr = c + row * p.ldc;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int col = n0 + h * 64 + tx * 4;
      float v[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = col + j < p.n ? finish(p, cr + col + j, col + j, acc[i][h * 4 + j]) : 0.0f;
      if (p.c_vec && col + 3 < p.n) {
        *reinterpret_cast<float4*>(cr + col) = float4{v[0], v[1], v[2], v[3]};
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (col + j < p.n) cr[col + j] = v[j];
      }
    }
  }
}

}  // namespace fma

// ------------------------------------------------------------------- host

bool aligned(const void* ptr, int bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

// Rows of X (leading dimension ld, batch stride) start at multiples of `elems` elements from an aligned base.
bool rows_aligned(const void* x, int64_t ld, int64_t stride, int64_t batch, int elems, int elem_bytes) {
  return aligned(x, elems * elem_bytes) && ld % elems == 0 && (batch == 1 || stride % elems == 0);
}

// False when there is nothing to compute; throws on a shape the kernels cannot index.
bool check(const GemmShape& s, const char* who) {
  if (s.m < 0 || s.n < 0 || s.k < 0 || s.batch < 0)
    throw std::invalid_argument(std::string(who) + ": negative GEMM extent");
  constexpr int64_t kMax = int64_t(1) << 31;
  if (s.m >= kMax || s.n >= kMax || s.k >= kMax || s.batch > 65535)
    throw std::invalid_argument(std::string(who) + ": GEMM extents must be below 2^31 (batch at most 65535), got m=" +
                                std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                                " batch=" + std::to_string(s.batch));
  return s.m > 0 && s.n > 0 && s.batch > 0;
}

Params params(const GemmShape& s, const void* a, const void* b, float* c, const GemmEpilogue& e) {
  return Params{a, b, c, s.lda, s.ldb, s.ldc, s.stride_a, s.stride_b, s.stride_c, static_cast<int>(s.m),
                static_cast<int>(s.n), static_cast<int>(s.k), e.alpha, e.beta, e.bias, e.gelu, false, false, false};
}

dim3 grid_of(const GemmShape& s) {
  return dim3(static_cast<unsigned>((s.n + kBN - 1) / kBN), static_cast<unsigned>((s.m + kBM - 1) / kBM),
              static_cast<unsigned>(s.batch));
}

template <class T>
void launch_tc(const GemmShape& s, const T* a, const T* b, float* c, const GemmEpilogue& e, void* stream) {
  if (!check(s, "cuda::gemm_tc")) return;
  Params p = params(s, a, b, c, e);
  constexpr int kElems = 16 / sizeof(T);  // a 16-byte chunk
  p.a_fast = rows_aligned(a, s.lda, s.stride_a, s.batch, kElems, sizeof(T));
  p.b_fast = rows_aligned(b, s.ldb, s.stride_b, s.batch, kElems, sizeof(T));
  p.c_vec = rows_aligned(c, s.ldc, s.stride_c, s.batch, 2, sizeof(float));
  const dim3 grid = grid_of(s);
  const auto st = static_cast<cudaStream_t>(stream);
  if (!s.trans_a && !s.trans_b) MAPET_LAUNCH((tc::gemm_tc_kernel<T, true, false>), grid, kThreads, 0, st, p);
  else if (!s.trans_a) MAPET_LAUNCH((tc::gemm_tc_kernel<T, true, true>), grid, kThreads, 0, st, p);
  else if (!s.trans_b) MAPET_LAUNCH((tc::gemm_tc_kernel<T, false, false>), grid, kThreads, 0, st, p);
  else MAPET_LAUNCH((tc::gemm_tc_kernel<T, false, true>), grid, kThreads, 0, st, p);
}

GemmShape plain_shape(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
  GemmShape s;
  s.trans_a = trans_a, s.trans_b = trans_b;
  s.m = m, s.n = n, s.k = k;
  s.lda = trans_a ? m : k, s.ldb = trans_b ? k : n, s.ldc = n;
  return s;
}

#if defined(MAPET_GEMM_CUBLASLT)
bool own_gemm_requested() {
  static const bool own = [] {
    const char* v = std::getenv("MAPET_GEMM");
    return v && std::strcmp(v, "own") == 0;
  }();
  return own;
}

// cuBLASLt's workspace: one per thread and device, allocated at the first call
// and kept (as PyTorch keeps one per handle); 32 MiB, what NVIDIA recommends for Hopper.
constexpr size_t kLtWorkspaceBytes = size_t{32} << 20;
void* lt_workspace() {
  struct Workspace {
    void* ptr = nullptr;
    int device = -1;
  };
  thread_local Workspace ws[16];
  int dev = 0;
  dialect::check(cudaGetDevice(&dev), "cudaGetDevice", "cuBLASLt workspace", __FILE__, __LINE__);
  if (dev < 0 || dev >= 16) throw std::runtime_error("cuBLASLt workspace: device index " + std::to_string(dev) + " above 15");
  Workspace& w = ws[dev];
  if (!w.ptr)
    dialect::check(cudaMalloc(&w.ptr, kLtWorkspaceBytes), "cudaMalloc", "cuBLASLt workspace (32 MiB)", __FILE__, __LINE__);
  return w.ptr;
}

// True when cuBLASLt did the product.
bool try_cublaslt(const GemmShape& s, const void* a, const void* b, LtInput input, float* c, float alpha, float beta,
                  const float* bias, void* stream) {
  if (own_gemm_requested()) return false;
  if (!check(s, "cuda::gemm")) return true;  // nothing to compute
  gemm_cublaslt(s, a, b, input, c, alpha, beta, bias, lt_workspace(), kLtWorkspaceBytes, stream);
  return true;
}
#endif

}  // namespace

void gemm_fma(const GemmShape& s, const float* a, const float* b, float* c, const GemmEpilogue& e, void* stream) {
  if (!check(s, "cuda::gemm_fma")) return;
  Params p = params(s, a, b, c, e);
  p.a_fast = rows_aligned(a, s.lda, s.stride_a, s.batch, 4, sizeof(float));
  p.b_fast = rows_aligned(b, s.ldb, s.stride_b, s.batch, 4, sizeof(float));
  p.c_vec = rows_aligned(c, s.ldc, s.stride_c, s.batch, 4, sizeof(float));
  const dim3 grid = grid_of(s);
  const auto st = static_cast<cudaStream_t>(stream);
  if (!s.trans_a && !s.trans_b) MAPET_LAUNCH((fma::gemm_fma_kernel<true, false>), grid, kThreads, 0, st, p);
  else if (!s.trans_a) MAPET_LAUNCH((fma::gemm_fma_kernel<true, true>), grid, kThreads, 0, st, p);
  else if (!s.trans_b) MAPET_LAUNCH((fma::gemm_fma_kernel<false, false>), grid, kThreads, 0, st, p);
  else MAPET_LAUNCH((fma::gemm_fma_kernel<false, true>), grid, kThreads, 0, st, p);
}

void gemm_tc(const GemmShape& s, const float* a, const float* b, float* c, const GemmEpilogue& e, void* stream) {
  launch_tc(s, a, b, c, e, stream);
}

void gemm_tc(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, const GemmEpilogue& e,
             void* stream) {
  launch_tc(s, a, b, c, e, stream);
}

void gemm(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta, const float* bias,
          void* stream) {
#if defined(MAPET_GEMM_CUBLASLT)
  if (try_cublaslt(s, a, b, LtInput::f32, c, alpha, beta, bias, stream)) return;
#endif
  gemm_fma(s, a, b, c, GemmEpilogue{alpha, beta, bias, false}, stream);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          float beta, const float* bias, void* stream) {
  gemm(plain_shape(trans_a, trans_b, m, n, k), a, b, c, 1.0f, beta, bias, stream);
}

void gemm_bf16(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, float alpha, float beta,
               const float* bias, void* stream) {
#if defined(MAPET_GEMM_CUBLASLT)
  if (try_cublaslt(s, a, b, LtInput::bf16, c, alpha, beta, bias, stream)) return;
#endif
  gemm_tc(s, a, b, c, GemmEpilogue{alpha, beta, bias, false}, stream);
}

void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, const uint16_t* b,
               float* c, float beta, const float* bias, void* stream) {
  gemm_bf16(plain_shape(trans_a, trans_b, m, n, k), a, b, c, 1.0f, beta, bias, stream);
}

namespace {
std::atomic<bool> g_uses_bf16{false};  // set once by the precision policy, read by every linear layer
}  // namespace

bool gemm_uses_bf16() { return g_uses_bf16.load(std::memory_order_relaxed); }
void set_gemm_uses_bf16(bool on) { g_uses_bf16.store(on, std::memory_order_relaxed); }

}  // namespace mapet::cuda
