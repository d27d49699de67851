// GELU forward/backward and the bias+GELU of an MLP's fc1 (twins:
// kernels/cpu/gelu.cpp). Per element the math is common::gelu / gelu_grad,
// the functions the CPU kernels call.
//
// Element-wise: grid-stride loops, float4 where the pointers allow it (a
// scalar loop finishes the last n % 4). bias_gelu_forward: a block per row
// (grid-strided), threads across the columns, so the bias index needs no
// division. bias_gelu_backward: a thread per column walks a chunk of 64 rows
// writing dx and summing it; the chunk sums are added in a fixed order
// (support.cuh), so db is the same bits on every run.
#include "kernels/cuda/dialect.cuh"

#include <initializer_list>

#include "kernels/common/math.h"
#include "kernels/cuda/gelu.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    gelu_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  int64_t done = 0;
  if constexpr (kVec) {
    const int64_t nv = n / 4;
    for (int64_t i = t; i < nv; i += stride) {
      const float4 v = reinterpret_cast<const float4*>(x)[i];
      reinterpret_cast<float4*>(y)[i] = float4{common::gelu(v.x), common::gelu(v.y), common::gelu(v.z), common::gelu(v.w)};
    }
    done = nv * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) y[i] = common::gelu(x[i]);
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    gelu_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  int64_t done = 0;
  if constexpr (kVec) {
    const int64_t nv = n / 4;
    for (int64_t i = t; i < nv; i += stride) {
      const float4 v = reinterpret_cast<const float4*>(x)[i], d = reinterpret_cast<const float4*>(dy)[i];
      reinterpret_cast<float4*>(dx)[i] = float4{d.x * common::gelu_grad(v.x), d.y * common::gelu_grad(v.y),
                                                d.z * common::gelu_grad(v.z), d.w * common::gelu_grad(v.w)};
    }
    done = nv * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) dx[i] = dy[i] * common::gelu_grad(x[i]);
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    bias_gelu_forward_kernel(const float* __restrict__ x, const float* __restrict__ b, float* __restrict__ y,
                             int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    if constexpr (kVec) {
      for (int64_t c = threadIdx.x; c < cols / 4; c += kThreads) {
        const float4 v = reinterpret_cast<const float4*>(xr)[c], bb = reinterpret_cast<const float4*>(b)[c];
        reinterpret_cast<float4*>(yr)[c] = float4{common::gelu(v.x + bb.x), common::gelu(v.y + bb.y),
                                                  common::gelu(v.z + bb.z), common::gelu(v.w + bb.w)};
      }
    } else {
      for (int64_t c = threadIdx.x; c < cols; c += kThreads) yr[c] = common::gelu(xr[c] + b[c]);
    }
  }
}

// Chunk c (grid-strided over y) of rows, column j: dx for those rows, and
// partial[c][j] = their sum in row order (the CPU's order within a chunk).
__global__ void __launch_bounds__(detail::kColumnThreads)
    bias_gelu_backward_kernel(const float* __restrict__ x, const float* __restrict__ b, const float* __restrict__ dy,
                              float* __restrict__ dx, float* __restrict__ partial, int64_t rows, int64_t cols,
                              int64_t chunks) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * detail::kColumnThreads + threadIdx.x;
  if (j >= cols) return;  // no barriers here
  const float bj = b[j];
  for (int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
    const int64_t r0 = c * detail::kChunkRows, r1 = rows < r0 + detail::kChunkRows ? rows : r0 + detail::kChunkRows;
    float acc = 0.0f;
    for (int64_t r = r0; r < r1; ++r) {
      const float d = dy[r * cols + j] * common::gelu_grad(x[r * cols + j] + bj);
      dx[r * cols + j] = d;
      acc += d;
    }
    partial[c * cols + j] = acc;
  }
}

bool vec_ok(int64_t cols, std::initializer_list<const void*> ptrs) {
  if (cols % 4 != 0) return false;
  for (const void* p : ptrs)
    if (!detail::aligned16(p)) return false;
  return true;
}

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (vec_ok(4, {x, y})) MAPET_LAUNCH(gelu_forward_kernel<true>, detail::grid_for(n / 4 + 1, kThreads), kThreads, 0, s, x, y, n);
  else MAPET_LAUNCH(gelu_forward_kernel<false>, detail::grid_for(n, kThreads), kThreads, 0, s, x, y, n);
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (vec_ok(4, {x, dy, dx})) MAPET_LAUNCH(gelu_backward_kernel<true>, detail::grid_for(n / 4 + 1, kThreads), kThreads, 0, s, x, dy, dx, n);
  else MAPET_LAUNCH(gelu_backward_kernel<false>, detail::grid_for(n, kThreads), kThreads, 0, s, x, dy, dx, n);
}

void bias_gelu_forward(const float* x, const float* b, float* y, int64_t rows, int64_t cols, void* stream) {
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = detail::grid_for(rows, 1);
  if (vec_ok(cols, {x, b, y})) MAPET_LAUNCH(bias_gelu_forward_kernel<true>, grid, kThreads, 0, s, x, b, y, rows, cols);
  else MAPET_LAUNCH(bias_gelu_forward_kernel<false>, grid, kThreads, 0, s, x, b, y, rows, cols);
}

void bias_gelu_backward(const float* x, const float* b, const float* dy, float* dx, float* db, int64_t rows,
                        int64_t cols, void* stream) {
  if (cols == 0) return;
  const int64_t chunks = detail::chunks_for(rows);  // rows == 0: one empty chunk, db = 0 as on the CPU
  detail::Scratch<float> partial(static_cast<size_t>(chunks * cols), stream);
  MAPET_LAUNCH(bias_gelu_backward_kernel, detail::column_grid(cols, chunks), detail::kColumnThreads, 0,
               static_cast<cudaStream_t>(stream), x, b, dy, dx, partial.get(), rows, cols, chunks);
  detail::sum_chunks(partial.get(), detail::ColumnOutputs{{db, nullptr}}, 1, chunks, cols, stream);
}

}  // namespace mapet::cuda
