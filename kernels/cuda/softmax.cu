// Row softmax (twins: kernels/cpu/softmax.cpp). A warp per row (grid-strided
// over rows), lanes across the columns: the rows here are attention scores
// (a few hundred columns), so a warp holds a row without shared memory or
// barriers. Three passes over the row as on the CPU: the max, then the
// exponentials (common::fast_exp, the CPU's formula) written out and summed,
// then the scaling by 1/sum. The max is exact; the sum is added in another
// order than the CPU's SIMD lanes, so results agree to a few ulp, not bits.
// y may alias x and dx may alias dy: a lane reads and writes only its own columns.
#include "kernels/cuda/dialect.cuh"

#include <cmath>

#include "kernels/common/math.h"
#include "kernels/cuda/softmax.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

using detail::kWarp;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarp;

// mask (null: none) blocks column j where mask[j] == 0; scale multiplies x first.
// A row with every column blocked becomes zeros (the CPU's masked rows).
__device__ __forceinline__ void row_softmax(const float* x, float* y, const uint8_t* mask, int64_t cols, float scale,
                                            int lane) {
  float m = -INFINITY;
  for (int64_t j = lane; j < cols; j += kWarp)
    if (!mask || mask[j]) m = max(m, x[j] * scale);
  m = detail::warp_max(m);
  if (m == -INFINITY) {  // warp-uniform: every lane has the same m
    for (int64_t j = lane; j < cols; j += kWarp) y[j] = 0.0f;
    return;
  }
  float s = 0.0f;
  for (int64_t j = lane; j < cols; j += kWarp) {
    const float e = (!mask || mask[j]) ? common::fast_exp(x[j] * scale - m) : 0.0f;
    y[j] = e;
    s += e;
  }
  const float inv = 1.0f / detail::warp_sum(s);
  for (int64_t j = lane; j < cols; j += kWarp) y[j] *= inv;
}

__global__ void __launch_bounds__(kThreads)
    softmax_forward_kernel(const float* x, float* y, int64_t rows, int64_t cols, float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; r < rows; r += stride)
    row_softmax(x + r * cols, y + r * cols, nullptr, cols, scale, threadIdx.x % kWarp);
}

// Row r of x [B, H, Tq, Tk] uses mask row ((b % mask_b) * mask_h + h % mask_h) * Tq + i.
__global__ void __launch_bounds__(kThreads)
    masked_softmax_kernel(float* x, const uint8_t* __restrict__ mask, int64_t rows, int64_t H, int64_t Tq, int64_t Tk,
                          int64_t mask_b, int64_t mask_h) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; r < rows; r += stride) {
    const int64_t i = r % Tq, h = (r / Tq) % H, b = r / (Tq * H);
    const uint8_t* row_mask = mask ? mask + (((b % mask_b) * mask_h + h % mask_h) * Tq + i) * Tk : nullptr;
    row_softmax(x + r * Tk, x + r * Tk, row_mask, Tk, 1.0f, threadIdx.x % kWarp);
  }
}

// dx = scale * y * (dy - sum(dy * y)) per row.
__global__ void __launch_bounds__(kThreads)
    softmax_backward_kernel(const float* __restrict__ y, const float* dy, float* dx, int64_t rows, int64_t cols,
                            float scale) {
  const int lane = threadIdx.x % kWarp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; r < rows; r += stride) {
    const float *yr = y + r * cols, *dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    float dot = 0.0f;
    for (int64_t j = lane; j < cols; j += kWarp) dot += yr[j] * dyr[j];
    dot = detail::warp_sum(dot);
    for (int64_t j = lane; j < cols; j += kWarp) dxr[j] = scale * yr[j] * (dyr[j] - dot);
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, float scale, void* stream) {
  if (rows == 0 || cols == 0) return;
  MAPET_LAUNCH(softmax_forward_kernel, detail::grid_for(rows, kWarps), kThreads, 0, static_cast<cudaStream_t>(stream),
               x, y, rows, cols, scale);
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale,
                      void* stream) {
  if (rows == 0 || cols == 0) return;
  MAPET_LAUNCH(softmax_backward_kernel, detail::grid_for(rows, kWarps), kThreads, 0, static_cast<cudaStream_t>(stream),
               y, dy, dx, rows, cols, scale);
}

void masked_softmax_inplace(float* x, const uint8_t* mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk,
                            int64_t mask_b, int64_t mask_h, void* stream) {
  const int64_t rows = B * H * Tq;
  if (rows == 0 || Tk == 0) return;
  MAPET_LAUNCH(masked_softmax_kernel, detail::grid_for(rows, kWarps), kThreads, 0, static_cast<cudaStream_t>(stream),
               x, mask, rows, H, Tq, Tk, mask_b, mask_h);
}

}  // namespace mapet::cuda
