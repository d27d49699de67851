// Element-wise kernels (twins: kernels/cpu/elementwise.cpp). Grid-stride loops;
// the flat ones take four elements per step (float4) where every pointer is
// 16-byte aligned, with a scalar tail. Each output is one exactly rounded
// operation on the same inputs as on the CPU, so the bits are the CPU's;
// mul_broadcast_grad_b is a column sum (support.cuh's deterministic two
// stages) and agrees to rounding.
#include "kernels/cuda/dialect.cuh"

#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

struct Add {
  static constexpr bool kUnary = false;
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct Mul {
  static constexpr bool kUnary = false;
  __device__ __forceinline__ float operator()(float a, float b) const { return a * b; }
};
// alpha * x (the CPU's `alpha * x[i]`): one input, b is never read.
struct Scale {
  static constexpr bool kUnary = true;
  float alpha;
  __device__ __forceinline__ float operator()(float x, float) const { return alpha * x; }
};

template <class Op>
__device__ __forceinline__ float4 apply4(const float4 a, const float4 b, Op op) {
  return float4{op(a.x, b.x), op(a.y, b.y), op(a.z, b.z), op(a.w, b.w)};
}

// y[i] = op(a[i], b[i]) (b unread by a unary op). y may alias a.
template <class Op, bool kVec>
__global__ void __launch_bounds__(kThreads) binary_kernel(const float* a, const float* b, float* y, int64_t n, Op op) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  int64_t done = 0;
  if constexpr (kVec) {
    const int64_t nq = n / 4;
    for (int64_t i = t; i < nq; i += stride) {
      const float4 va = reinterpret_cast<const float4*>(a)[i];
      reinterpret_cast<float4*>(y)[i] = apply4(va, Op::kUnary ? va : reinterpret_cast<const float4*>(b)[i], op);
    }
    done = nq * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) y[i] = op(a[i], Op::kUnary ? 0.0f : b[i]);
}

template <class Op>
void launch_binary(const float* a, const float* b, float* y, int64_t n, Op op, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (detail::aligned16(a) && detail::aligned16(b) && detail::aligned16(y))
    MAPET_LAUNCH((binary_kernel<Op, true>), detail::grid_for(n / 4 + 1, kThreads), kThreads, 0, s, a, b, y, n, op);
  else
    MAPET_LAUNCH((binary_kernel<Op, false>), detail::grid_for(n, kThreads), kThreads, 0, s, a, b, y, n, op);
}

// y[i] = op(a[i], b[i % n_b]): b repeats over a (a bias, pos_embed, a gamma).
template <class Op>
__global__ void __launch_bounds__(kThreads)
    broadcast_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y, int64_t n,
                     int64_t n_b, Op op) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride)
    y[i] = op(a[i], b[i % n_b]);
}

// a[r * a_stride + i] += b[r * run + i]: a block per run (grid-strided), threads along it.
__global__ void __launch_bounds__(kThreads)
    add_runs_kernel(float* __restrict__ a, const float* __restrict__ b, int64_t runs, int64_t run, int64_t a_stride) {
  for (int64_t r = blockIdx.x; r < runs; r += gridDim.x)
    for (int64_t i = threadIdx.x; i < run; i += kThreads) a[r * a_stride + i] += b[r * run + i];
}

// Stage 1 of db[j] = sum_r dy[r][j] * a[r][j]: a thread per column sums one
// chunk of rows in row order (the CPU's chunks) into partial[chunk][j].
__global__ void __launch_bounds__(detail::kColumnThreads)
    mul_grad_chunks_kernel(const float* __restrict__ dy, const float* __restrict__ a, float* __restrict__ partial,
                           int64_t rows, int64_t cols, int64_t chunks) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * detail::kColumnThreads + threadIdx.x;
  if (j >= cols) return;  // no barriers here
  for (int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
    const int64_t r0 = c * detail::kChunkRows, r1 = rows < r0 + detail::kChunkRows ? rows : r0 + detail::kChunkRows;
    float acc = 0.0f;
    for (int64_t r = r0; r < r1; ++r) acc += dy[r * cols + j] * a[r * cols + j];
    partial[c * cols + j] = acc;
  }
}

template <class Op>
void launch_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b, Op op, void* stream) {
  if (n == 0 || n_b == 0) return;
  MAPET_LAUNCH(broadcast_kernel<Op>, detail::grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream), a,
               b, y, n, n_b, op);
}

}  // namespace

void add(const float* a, const float* b, float* y, int64_t n, void* stream) {
  launch_binary(a, b, y, n, Add{}, stream);
}
void add_inplace(float* a, const float* b, int64_t n, void* stream) { launch_binary(a, b, a, n, Add{}, stream); }
void mul(const float* a, const float* b, float* y, int64_t n, void* stream) {
  launch_binary(a, b, y, n, Mul{}, stream);
}
void scale(const float* x, float alpha, float* y, int64_t n, void* stream) {
  launch_binary(x, nullptr, y, n, Scale{alpha}, stream);
}

void add_inplace_runs(float* a, const float* b, int64_t runs, int64_t run, int64_t a_stride, void* stream) {
  if (runs == 0 || run == 0) return;
  MAPET_LAUNCH(add_runs_kernel, detail::grid_for(runs, 1), kThreads, 0, static_cast<cudaStream_t>(stream), a, b, runs,
               run, a_stride);
}

void add_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b, void* stream) {
  launch_broadcast(a, b, y, n, n_b, Add{}, stream);
}
void mul_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b, void* stream) {
  launch_broadcast(a, b, y, n, n_b, Mul{}, stream);
}

void mul_broadcast_grad_b(const float* dy, const float* a, float* db, int64_t n, int64_t n_b, void* stream) {
  if (n_b == 0) return;
  const int64_t rows = n / n_b, chunks = detail::chunks_for(rows);  // no rows: one empty chunk, db = 0 as on the CPU
  detail::Scratch<float> partial(static_cast<size_t>(chunks * n_b), stream);
  MAPET_LAUNCH(mul_grad_chunks_kernel, detail::column_grid(n_b, chunks), detail::kColumnThreads, 0,
               static_cast<cudaStream_t>(stream), dy, a, partial.get(), rows, n_b, chunks);
  detail::sum_chunks(partial.get(), detail::ColumnOutputs{{db, nullptr}}, 1, chunks, n_b, stream);
}

}  // namespace mapet::cuda
