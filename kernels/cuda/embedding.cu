// Embedding lookup (twin: ops::index_select along dim 0): a warp per output
// row (grid-strided), lanes across the row, float4 where aligned.
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
                     int64_t n, int64_t rows, int64_t dim) {
  const int lane = threadIdx.x % kWarp;
  const int64_t width = kVec ? dim / 4 : dim, stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; i < n; i += stride) {
    const int64_t j = index[i];
    const bool ok = j >= 0 && j < rows;
    const float* src = table + (ok ? j : 0) * dim;
    float* dst = out + i * dim;
    for (int64_t k = lane; k < width; k += kWarp) {
      if constexpr (kVec)
        reinterpret_cast<float4*>(dst)[k] = ok ? reinterpret_cast<const float4*>(src)[k] : float4{NAN, NAN, NAN, NAN};
      else
        dst[k] = ok ? src[k] : NAN;
    }
  }
}

}  // namespace

void embedding_forward(const float* table, const int64_t* index, float* out, int64_t n, int64_t rows, int64_t dim,
                       void* stream) {
  if (n == 0 || dim == 0) return;
  const unsigned grid = detail::grid_for(n, kWarps);
  auto s = static_cast<cudaStream_t>(stream);
  if (dim % 4 == 0 && detail::aligned16(table) && detail::aligned16(out))
    MAPET_LAUNCH(embedding_kernel<true>, grid, kThreads, 0, s, table, index, out, n, rows, dim);
  else
    MAPET_LAUNCH(embedding_kernel<false>, grid, kThreads, 0, s, table, index, out, n, rows, dim);
}

}  // namespace mapet::cuda
