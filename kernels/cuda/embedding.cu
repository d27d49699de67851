// Embedding lookup (twin: cpu::embedding_forward): a warp per output row
// (grid-strided), lanes across the row, float4 where aligned.
// Its backward (twin: cpu::embedding_backward) adds gradient rows into the
// table without atomics: a thread owns one column (four, float4) of one
// table and walks the indices in order, so two gradients of the same row are
// added in the CPU's order and the result is the same bits on every run.
// Parallel over tables x columns only; the indices are a loop per thread.
#include "kernels/cuda/dialect.cuh"

#include <cmath>

#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

using detail::kWarp;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarp;

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    embedding_kernel(const float* __restrict__ table, const int64_t* __restrict__ index, float* __restrict__ out,
                     int64_t total, int64_t n, int64_t rows, int64_t dim) {
  const int lane = threadIdx.x % kWarp;
  const int64_t width = kVec ? dim / 4 : dim, stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; i < total; i += stride) {
    const int64_t j = index[i];  // output row i = b * n + (its place in table b's list)
    const bool ok = j >= 0 && j < rows;
    const float* src = table + ((i / n) * rows + (ok ? j : 0)) * dim;
    float* dst = out + i * dim;
    for (int64_t k = lane; k < width; k += kWarp) {
      if constexpr (kVec)
        reinterpret_cast<float4*>(dst)[k] = ok ? reinterpret_cast<const float4*>(src)[k] : float4{NAN, NAN, NAN, NAN};
      else
        dst[k] = ok ? src[k] : NAN;
    }
  }
}

// grid.x: column tiles of kThreads (float4s when kVec), grid.y: tables (grid-strided).
template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    embedding_backward_kernel(const float* __restrict__ dout, const int64_t* __restrict__ index,
                              float* __restrict__ dtable, int64_t batches, int64_t n, int64_t rows, int64_t dim) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (k >= (kVec ? dim / 4 : dim)) return;  // no barriers here
  for (int64_t b = blockIdx.y; b < batches; b += gridDim.y) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = index[b * n + i];
      if (j < 0 || j >= rows) continue;
      float* d = dtable + (b * rows + j) * dim;
      const float* s = dout + (b * n + i) * dim;
      if constexpr (kVec) {
        const float4 g = reinterpret_cast<const float4*>(s)[k];
        float4 v = reinterpret_cast<float4*>(d)[k];
        v.x += g.x;
        v.y += g.y;
        v.z += g.z;
        v.w += g.w;
        reinterpret_cast<float4*>(d)[k] = v;
      } else {
        d[k] += s[k];
      }
    }
  }
}

}  // namespace

void embedding_backward(const float* dout, const int64_t* index, float* dtable, int64_t batches, int64_t n,
                        int64_t rows, int64_t dim, void* stream) {
  if (batches == 0 || n == 0 || dim == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const bool vec = dim % 4 == 0 && detail::aligned16(dout) && detail::aligned16(dtable);
  const int64_t width = vec ? dim / 4 : dim;
  const int64_t max_y = std::min<int64_t>(65535, detail::max_grid_blocks());  // the rest: grid-strided
  const dim3 grid(static_cast<unsigned>((width + kThreads - 1) / kThreads),
                  static_cast<unsigned>(std::min<int64_t>(batches, max_y)));
  if (vec)
    MAPET_LAUNCH(embedding_backward_kernel<true>, grid, kThreads, 0, s, dout, index, dtable, batches, n, rows, dim);
  else
    MAPET_LAUNCH(embedding_backward_kernel<false>, grid, kThreads, 0, s, dout, index, dtable, batches, n, rows, dim);
}

void embedding_forward(const float* table, const int64_t* index, float* out, int64_t batches, int64_t n, int64_t rows,
                       int64_t dim, void* stream) {
  const int64_t total = batches * n;
  if (total == 0 || dim == 0) return;
  const unsigned grid = detail::grid_for(total, kWarps);
  auto s = static_cast<cudaStream_t>(stream);
  if (dim % 4 == 0 && detail::aligned16(table) && detail::aligned16(out))
    MAPET_LAUNCH(embedding_kernel<true>, grid, kThreads, 0, s, table, index, out, total, n, rows, dim);
  else
    MAPET_LAUNCH(embedding_kernel<false>, grid, kThreads, 0, s, table, index, out, total, n, rows, dim);
}

}  // namespace mapet::cuda
