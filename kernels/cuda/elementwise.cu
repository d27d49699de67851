// Element-wise CUDA kernels. The per-element math is kernels/common (the same
// functions the CPU kernels call), so both backends compute the same values.
#include <cuda_runtime.h>

#include "kernels/common/adamw.h"
#include "kernels/common/math.h"
#include "kernels/cuda/kernels.h"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

std::string launch_status() {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? std::string() : std::string(cudaGetErrorString(e));
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

__global__ void adamw_kernel(common::AdamWStep s, float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) common::adamw_update(s, p[i], g[i], m[i], v[i]);
}

}  // namespace

std::string gelu_forward(const float* x, float* y, int64_t n, void* stream) {
  if (n == 0) return {};
  gelu_forward_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n);
  return launch_status();
}

std::string gelu_backward(const float* x, const float* dy, float* dx, int64_t n, void* stream) {
  if (n == 0) return {};
  gelu_backward_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, dy, dx, n);
  return launch_status();
}

std::string adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                       void* stream) {
  if (n == 0) return {};
  adamw_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(s, param, grad, m, v, n);
  return launch_status();
}

std::string gelu_forward_host(const float* x, float* y, int64_t n) {
  float *dx = nullptr, *dy = nullptr;
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  if (cudaMalloc(&dx, bytes) != cudaSuccess || cudaMalloc(&dy, bytes) != cudaSuccess) {
    cudaFree(dx);
    return "cudaMalloc failed";
  }
  cudaMemcpy(dx, x, bytes, cudaMemcpyHostToDevice);
  std::string err = gelu_forward(dx, dy, n);
  if (err.empty()) {
    cudaError_t e = cudaMemcpy(y, dy, bytes, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) err = cudaGetErrorString(e);
  }
  cudaFree(dx);
  cudaFree(dy);
  return err;
}

}  // namespace mapet::cuda
