// Deterministic reductions (twins: kernels/cpu/reduce.cpp).
//
// sum_rows: a thread per column sums a chunk of 64 rows in order (coalesced
// across the warp), then the chunk sums are added in a fixed order
// (support.cuh) — the bias gradient of a linear layer. sum_squares: every
// array is cut into tiles of 16384 elements (the CPU's blocks); a block per
// tile sums x*x in double (thread partials, then a fixed-order block
// reduction), and one block adds the tile sums in a fixed order. No atomics.
// mean_dim: a thread per output (o, j), adding the n values in order as the
// CPU does (consecutive threads read consecutive j: coalesced). argmax_rows:
// a block per row, each thread the max of its strided keys
// (common::argmax_key), then a block max: keys make the order irrelevant.
#include "kernels/cuda/dialect.cuh"

#include "kernels/common/bf16.h"
#include "kernels/common/math.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

template <bool kToBf16>
__global__ void __launch_bounds__(detail::kColumnThreads)
    sum_rows_kernel(const float* __restrict__ x, float* __restrict__ partial, uint16_t* __restrict__ x16,
                    int64_t rows, int64_t cols, int64_t chunks) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * detail::kColumnThreads + threadIdx.x;
  if (j >= cols) return;  // no barriers here
  for (int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
    const int64_t r0 = c * detail::kChunkRows, r1 = rows < r0 + detail::kChunkRows ? rows : r0 + detail::kChunkRows;
    float acc = 0.0f;
    for (int64_t r = r0; r < r1; ++r) {
      const float v = x[r * cols + j];
      acc += v;
      if constexpr (kToBf16) x16[r * cols + j] = common::float_to_bf16(v);
    }
    partial[c * cols + j] = acc;
  }
}

constexpr int kThreads = 256;
constexpr int64_t kTile = 16384;  // = cpu::kElementBlock

struct Tile {
  const float* p;
  int64_t n;  // <= kTile
};

struct SumOp {
  __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
};

// Block b (grid-strided) sums tile b into partial[b].
__global__ void __launch_bounds__(kThreads)
    sum_squares_tiles_kernel(const Tile* __restrict__ tiles, int64_t count, double* __restrict__ partial) {
  __shared__ double red[kThreads / detail::kWarp];
  for (int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const Tile t = tiles[b];
    double s = 0.0;
    int64_t i = 4 * threadIdx.x;
    if (detail::aligned16(t.p)) {
      for (; i + 4 <= t.n; i += 4 * kThreads) {
        const float4 v = *reinterpret_cast<const float4*>(t.p + i);
        s += (static_cast<double>(v.x) * v.x + static_cast<double>(v.y) * v.y) +
             (static_cast<double>(v.z) * v.z + static_cast<double>(v.w) * v.w);
      }
    }
    for (; i < t.n; i += 4 * kThreads)
      for (int64_t k = i; k < i + 4 && k < t.n; ++k) s += static_cast<double>(t.p[k]) * t.p[k];
    s = detail::block_reduce<kThreads>(s, red, SumOp{});
    if (threadIdx.x == 0) partial[b] = s;
  }
}

__global__ void __launch_bounds__(kThreads)
    sum_partials_kernel(const double* __restrict__ partial, int64_t count, double* __restrict__ total) {
  __shared__ double red[kThreads / detail::kWarp];
  double s = 0.0;
  for (int64_t b = threadIdx.x; b < count; b += kThreads) s += partial[b];
  s = detail::block_reduce<kThreads>(s, red, SumOp{});
  if (threadIdx.x == 0) *total = s;
}

__global__ void __launch_bounds__(kThreads)
    mean_dim_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t n, int64_t inner,
                    float inv) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < outer * inner; t += stride) {
    const int64_t o = t / inner, j = t % inner;
    const float* xc = x + o * n * inner + j;
    float s = 0.0f;
    for (int64_t k = 0; k < n; ++k) s += xc[k * inner];
    y[t] = s * inv;
  }
}

__global__ void __launch_bounds__(kThreads)
    mean_dim_backward_kernel(const float* __restrict__ g, float* __restrict__ dx, int64_t outer, int64_t n,
                             int64_t inner, float inv) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads, total = outer * n * inner;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total; t += stride)
    dx[t] = g[(t / (n * inner)) * inner + t % inner] * inv;
}

struct MaxKeyOp {
  __device__ __forceinline__ int64_t operator()(int64_t a, int64_t b) const { return a > b ? a : b; }
};

__global__ void __launch_bounds__(kThreads)
    argmax_rows_kernel(const float* __restrict__ x, int64_t* __restrict__ index, int64_t rows, int64_t cols) {
  __shared__ int64_t red[kThreads / detail::kWarp];
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {  // the same trip count for the whole block
    const float* row = x + i * cols;
    int64_t best = common::argmax_key(row[0], 0);
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) best = MaxKeyOp{}(best, common::argmax_key(row[j], j));
    best = detail::block_reduce<kThreads>(best, red, MaxKeyOp{});
    if (threadIdx.x == 0) index[i] = common::argmax_key_index(best);
  }
}

template <bool kToBf16>
void launch_sum_rows(const float* x, float* out, int64_t rows, int64_t cols, uint16_t* x16, void* stream) {
  if (cols == 0) return;
  const int64_t chunks = detail::chunks_for(rows);  // no rows: one empty chunk, out = 0 as on the CPU
  detail::Scratch<float> partial(static_cast<size_t>(chunks * cols), stream);
  MAPET_LAUNCH(sum_rows_kernel<kToBf16>, detail::column_grid(cols, chunks), detail::kColumnThreads, 0,
               static_cast<cudaStream_t>(stream), x, partial.get(), x16, rows, cols, chunks);
  detail::sum_chunks(partial.get(), detail::ColumnOutputs{{out, nullptr}}, 1, chunks, cols, stream);
}

}  // namespace

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, void* stream) {
  launch_sum_rows<false>(x, out, rows, cols, nullptr, stream);
}

void sum_rows_to_bf16(const float* x, float* out, int64_t rows, int64_t cols, uint16_t* x16, void* stream) {
  launch_sum_rows<true>(x, out, rows, cols, x16, stream);
}

void mean_dim(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, void* stream) {
  if (outer * inner == 0) return;
  MAPET_LAUNCH(mean_dim_kernel, detail::grid_for(outer * inner, kThreads), kThreads, 0,
               static_cast<cudaStream_t>(stream), x, y, outer, n, inner, 1.0f / static_cast<float>(n));
}

void mean_dim_backward(const float* g, float* dx, int64_t outer, int64_t n, int64_t inner, void* stream) {
  if (outer * n * inner == 0) return;
  MAPET_LAUNCH(mean_dim_backward_kernel, detail::grid_for(outer * n * inner, kThreads), kThreads, 0,
               static_cast<cudaStream_t>(stream), g, dx, outer, n, inner, 1.0f / static_cast<float>(n));
}

double sum_squares(const std::vector<std::pair<const float*, int64_t>>& arrays, void* stream) {
  std::vector<Tile> tiles;
  for (const auto& [p, n] : arrays)
    for (int64_t i = 0; i < n; i += kTile) tiles.push_back({p + i, n - i < kTile ? n - i : kTile});
  if (tiles.empty()) return 0.0;
  const int64_t count = static_cast<int64_t>(tiles.size());
  detail::Scratch<Tile> device_tiles(tiles.size(), stream);
  detail::Scratch<double> partial(tiles.size() + 1, stream);  // the last one: the total
  detail::copy_to_device(device_tiles.get(), tiles.data(), tiles.size(), stream);
  auto s = static_cast<cudaStream_t>(stream);
  MAPET_LAUNCH(sum_squares_tiles_kernel, detail::grid_for(count, 1), kThreads, 0, s, device_tiles.get(), count,
               partial.get());
  MAPET_LAUNCH(sum_partials_kernel, 1u, kThreads, 0, s, partial.get(), count, partial.get() + count);
  double total = 0.0;
  detail::copy_to_host(&total, partial.get() + count, 1, stream);
  return total;
}

void argmax_rows(const float* x, int64_t* index, int64_t rows, int64_t cols, void* stream) {
  if (rows == 0 || cols == 0) return;
  MAPET_LAUNCH(argmax_rows_kernel, detail::grid_for(rows, 1), kThreads, 0, static_cast<cudaStream_t>(stream), x, index,
               rows, cols);
}

}  // namespace mapet::cuda
