// AdamW before the dialect (GPU build only); GELU moved to gelu.cu.
#include <cuda_runtime.h>

#include "kernels/common/adamw.h"
#include "kernels/cuda/kernels.h"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

std::string launch_status() {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? std::string() : std::string(cudaGetErrorString(e));
}

__global__ void adamw_kernel(common::AdamWStep s, float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) common::adamw_update(s, p[i], g[i], m[i], v[i]);
}

}  // namespace

std::string adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                       void* stream) {
  if (n == 0) return {};
  adamw_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(s, param, grad, m, v, n);
  return launch_status();
}

}  // namespace mapet::cuda
