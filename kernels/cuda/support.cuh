// Pieces the op kernels share: warp and block reductions in a fixed order,
// grid sizing, per-call scratch memory, and the deterministic column sums
// (bias, LayerNorm and layer-scale gradients). Include after dialect.cuh.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

// `#pragma unroll` for both compilers (g++ warns about nvcc's spelling). Loops
// over register arrays must unroll, or the arrays go to local memory.
#if defined(MAPET_SIMT)
#define MAPET_UNROLL _Pragma("GCC unroll 16")
#else
#define MAPET_UNROLL _Pragma("unroll")
#endif

namespace mapet::cuda::detail {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

// Sum over the 32 lanes by a butterfly: every lane gets the same value, and
// the order of additions is fixed (deterministic whatever the scheduling).
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
MAPET_UNROLL
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
MAPET_UNROLL
  for (int offset = 16; offset > 0; offset /= 2) v = max(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Sum over a block of kThreads (a multiple of 32): warp sums, then warp 0 adds
// the per-warp sums; every thread gets the total. `smem` holds kThreads/32
// values; the trailing barrier lets the caller reuse it at once.
template <int kThreads, class T, class Op>
__device__ __forceinline__ T block_reduce(T v, T* smem, Op op) {
  static_assert(kThreads % kWarp == 0 && kThreads <= 1024);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
MAPET_UNROLL
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, offset));
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T total = smem[0];
MAPET_UNROLL
  for (int w = 1; w < kThreads / kWarp; ++w) total = op(total, smem[w]);
  __syncthreads();
  return total;
}

// The most blocks a grid-stride kernel launches: by default enough to fill an
// H100 several times over. MAPET_CUDA_MAX_GRID_BLOCKS lowers it (ctest runs
// the kernel twins once more with 3), so every grid-stride loop takes several
// turns in the tests, as it does on a GPU with large inputs.
inline int64_t max_grid_blocks() {
  static const int64_t cap = [] {
    const char* s = std::getenv("MAPET_CUDA_MAX_GRID_BLOCKS");
    const int64_t v = s ? std::atoll(s) : 0;
    return v > 0 ? v : int64_t{132 * 16};
  }();
  return cap;
}

// Blocks for a grid-stride loop over n items: never more than the items need.
inline unsigned grid_for(int64_t n, int per_block) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + per_block - 1) / per_block, max_grid_blocks())));
}

__host__ __device__ inline bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Device memory for the length of one host call, freed in stream order (the
// kernels queued on the stream before the free still see it). Under simt:
// host memory filled with NaN bytes, so a read before a write shows.
template <class T>
class Scratch {
 public:
  Scratch(size_t n, void* stream) : stream_(stream) {
#if defined(MAPET_SIMT)
    host_.assign(n * sizeof(T) + 16, 0xff);
    ptr_ = reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(host_.data()) + 15) / 16 * 16);
#else
    void* p = nullptr;
    dialect::check(cudaMallocAsync(&p, std::max<size_t>(1, n * sizeof(T)), static_cast<cudaStream_t>(stream)),
                   "cudaMallocAsync", "scratch", __FILE__, __LINE__);
    ptr_ = static_cast<T*>(p);
#endif
  }
  ~Scratch() {
#if !defined(MAPET_SIMT)
    cudaFreeAsync(ptr_, static_cast<cudaStream_t>(stream_));
#endif
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  void* stream_;
#if defined(MAPET_SIMT)
  std::vector<unsigned char> host_;
#endif
};

// Copies n values from device memory to the host after the work queued on the stream.
template <class T>
void copy_to_host(T* dst, const T* src, size_t n, void* stream) {
#if defined(MAPET_SIMT)
  std::memcpy(dst, src, n * sizeof(T));
#else
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  dialect::check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync", "copy",
                 __FILE__, __LINE__);
  dialect::check(cudaStreamSynchronize(s), "cudaStreamSynchronize", "copy", __FILE__, __LINE__);
#endif
}

// Copies n values from the host to device memory, in stream order. (A pageable
// source is staged by the driver before this returns, so it may go at once.)
template <class T>
void copy_to_device(T* dst, const T* src, size_t n, void* stream) {
#if defined(MAPET_SIMT)
  std::memcpy(dst, src, n * sizeof(T));
#else
  dialect::check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)),
                 "cudaMemcpyAsync", "copy", __FILE__, __LINE__);
#endif
}

// ---- Deterministic column sums: out[j] = sum over rows of f(row, j) --------
// Stage 1 (the op's own kernel): rows are cut into chunks of kChunkRows (the
// CPU's kReduceChunkRows), one thread per column sums its chunk in row order
// into partial[chunk][output][col]. Stage 2 (sum_chunks below): each column's
// chunk partials are added in a fixed order. Neither stage depends on the grid
// size or on timing, so the result is the same bits on every run.
constexpr int64_t kChunkRows = 64;
constexpr int kMaxOutputs = 2;

struct ColumnOutputs {
  float* out[kMaxOutputs];
};

inline int64_t chunks_for(int64_t rows) { return std::max<int64_t>(1, (rows + kChunkRows - 1) / kChunkRows); }

// Stage-1 launch shape: x = column tiles of kColumnThreads, y = chunks (grid-strided in the kernel).
constexpr int kColumnThreads = 128;
inline dim3 column_grid(int64_t cols, int64_t chunks) {
  return dim3(static_cast<unsigned>((cols + kColumnThreads - 1) / kColumnThreads),
              static_cast<unsigned>(std::min<int64_t>(chunks, std::min<int64_t>(65535, max_grid_blocks()))));
}

// Stage 2: a block of 32 columns x 16 chunk lanes; lane y adds chunks y, y+16, ...
// in order, then lane 0 adds the 16 lane sums in order.
template <int kDummy = 0>
__global__ void __launch_bounds__(512)
    sum_chunks_kernel(const float* __restrict__ partial, ColumnOutputs outs, int64_t chunks, int64_t cols) {
  __shared__ float lanes[16][33];
  const int o = blockIdx.y;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const int64_t width = cols * gridDim.y;
  float s = 0.0f;
  if (j < cols) {
    const float* p = partial + o * cols + j;
    for (int64_t c = threadIdx.y; c < chunks; c += 16) s += p[c * width];
  }
  lanes[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    float t = lanes[0][threadIdx.x];
MAPET_UNROLL
    for (int y = 1; y < 16; ++y) t += lanes[y][threadIdx.x];
    (o == 0 ? outs.out[0] : outs.out[1])[j] = t;  // not out[o]: a dynamic index into a parameter array is a stack copy
  }
}

inline void sum_chunks(const float* partial, ColumnOutputs outs, int n_outputs, int64_t chunks, int64_t cols,
                       void* stream) {
  dim3 grid(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>(n_outputs));
  MAPET_LAUNCH(sum_chunks_kernel<0>, grid, dim3(32, 16), 0, static_cast<cudaStream_t>(stream), partial, outs, chunks,
               cols);
}

}  // namespace mapet::cuda::detail
