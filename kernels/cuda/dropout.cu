// Dropout and drop-path (twins: kernels/cpu/elementwise.cpp). Element i's
// draw is word offset + i of the Philox stream (seed), as on the CPU: one
// Philox4x32-10 call gives four consecutive words, so a thread takes one
// Philox block and the (up to) four elements whose words it holds, instead of
// running the ten rounds once per element.
#include "kernels/cuda/dialect.cuh"

#include "kernels/common/philox.h"
#include "kernels/cuda/dropout.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

// Philox blocks [first, first + blocks): block b holds stream words 4b .. 4b+3.
__global__ void __launch_bounds__(kThreads)
    dropout_forward_kernel(const float* __restrict__ x, float* __restrict__ y, uint8_t* __restrict__ keep, int64_t n,
                           float p, float scale, uint64_t seed, uint64_t offset, uint64_t first, int64_t blocks) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < blocks; t += stride) {
    const uint64_t b = first + static_cast<uint64_t>(t);
    const common::Philox4 r = common::philox4x32_10(
        common::Philox4{{static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), 0u, 0u}},
        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
MAPET_UNROLL
    for (int k = 0; k < 4; ++k) {
      const uint64_t word = 4 * b + k;
      if (word < offset || word - offset >= static_cast<uint64_t>(n)) continue;
      const int64_t i = static_cast<int64_t>(word - offset);
      const bool kept = common::u32_to_uniform(r.v[k]) >= p;
      keep[i] = kept;
      y[i] = kept ? x[i] * scale : 0.0f;
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    drop_path_row_scales_kernel(float* __restrict__ row_scale, int64_t rows, float p, float scale, uint64_t seed,
                                uint64_t offset) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; r < rows; r += stride)
    row_scale[r] = common::philox_uniform(seed, offset + static_cast<uint64_t>(r)) >= p ? scale : 0.0f;
}

// A block per row (grid-strided), threads across it.
template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    row_scale_apply_kernel(const float* __restrict__ x, const float* __restrict__ row_scale, float* __restrict__ y,
                           int64_t rows, int64_t row_len) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float s = row_scale[r];
    const float* xr = x + r * row_len;
    float* yr = y + r * row_len;
    if constexpr (kVec) {
      for (int64_t j = threadIdx.x; j < row_len / 4; j += kThreads) {
        const float4 v = reinterpret_cast<const float4*>(xr)[j];
        reinterpret_cast<float4*>(yr)[j] = float4{v.x * s, v.y * s, v.z * s, v.w * s};
      }
    } else {
      for (int64_t j = threadIdx.x; j < row_len; j += kThreads) yr[j] = xr[j] * s;
    }
  }
}

}  // namespace

void dropout_forward(const float* x, float* y, uint8_t* keep, int64_t n, float p, uint64_t seed, uint64_t offset,
                     void* stream) {
  if (n == 0) return;
  const uint64_t first = offset / 4, last = (offset + static_cast<uint64_t>(n) - 1) / 4;
  const int64_t blocks = static_cast<int64_t>(last - first + 1);
  MAPET_LAUNCH(dropout_forward_kernel, detail::grid_for(blocks, kThreads), kThreads, 0,
               static_cast<cudaStream_t>(stream), x, y, keep, n, p, 1.0f / (1.0f - p), seed, offset, first, blocks);
}

void drop_path_row_scales(float* row_scale, int64_t rows, float p, uint64_t seed, uint64_t offset, void* stream) {
  if (rows == 0) return;
  MAPET_LAUNCH(drop_path_row_scales_kernel, detail::grid_for(rows, kThreads), kThreads, 0,
               static_cast<cudaStream_t>(stream), row_scale, rows, p, 1.0f / (1.0f - p), seed, offset);
}

void row_scale_apply(const float* x, const float* row_scale, float* y, int64_t rows, int64_t row_len, void* stream) {
  if (rows == 0 || row_len == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = detail::grid_for(rows, 1);
  if (row_len % 4 == 0 && detail::aligned16(x) && detail::aligned16(y))
    MAPET_LAUNCH(row_scale_apply_kernel<true>, grid, kThreads, 0, s, x, row_scale, y, rows, row_len);
  else
    MAPET_LAUNCH(row_scale_apply_kernel<false>, grid, kThreads, 0, s, x, row_scale, y, rows, row_len);
}

void drop_path_forward(const float* x, float* y, float* row_scale, int64_t rows, int64_t row_len, float p,
                       uint64_t seed, uint64_t offset, void* stream) {
  drop_path_row_scales(row_scale, rows, p, seed, offset, stream);
  row_scale_apply(x, row_scale, y, rows, row_len, stream);
}

}  // namespace mapet::cuda
