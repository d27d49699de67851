// GELU on the GPU (kernels/cuda/gelu.cuh). The per-element math is
// kernels/common/math.h, the functions the CPU kernels call, so both backends
// compute the same values.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/common/math.h"
#include "kernels/cuda/gelu.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(kernel) + ": " + cudaGetErrorString(e));
}

__global__ void gelu_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = common::gelu(x[i]);
}

__global__ void gelu_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                     float* __restrict__ dx, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dx[i] = dy[i] * common::gelu_grad(x[i]);
}

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n, void* stream) {
  if (n == 0) return;
  gelu_forward_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n);
  check_launch("gelu_forward");
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, void* stream) {
  if (n == 0) return;
  gelu_backward_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, dy, dx, n);
  check_launch("gelu_backward");
}

}  // namespace mapet::cuda
