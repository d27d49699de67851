// Fused AdamW update on the GPU (kernels/cuda/adamw.cuh). The per-element math
// is kernels/common/adamw.h, as on the CPU.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/common/adamw.h"
#include "kernels/cuda/adamw.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void adamw_kernel(common::AdamWStep s, float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) common::adamw_update(s, p[i], g[i], m[i], v[i]);
}

}  // namespace

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                void* stream) {
  if (n == 0) return;
  const int blocks = static_cast<int>((n + kThreads - 1) / kThreads);
  adamw_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(s, param, grad, m, v, n);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("adamw_step: ") + cudaGetErrorString(e));
}

}  // namespace mapet::cuda
