// A sample kernel in the project's CUDA dialect: the pattern to copy. The file
// compiles twice (tests/CMakeLists.txt): by nvcc for sm_90, and by g++ through
// mapet_simt_library() to run under kernels/simt in simt_tests.
//
// One block per row; each thread sums a strided slice, then the block reduces
// with warp shuffles and dynamic shared memory (one partial per warp).
#include "kernels/cuda/dialect.cuh"  // first: it defines the dialect for both compilers
#include "tests/simt/sample_kernel.h"

namespace mapet::simt_sample {

namespace {

__global__ void __launch_bounds__(1024) row_sums_kernel(const float* __restrict__ x, float* __restrict__ y, int cols) {
  MAPET_DYNAMIC_SMEM(float, warp_sums);  // blockDim.x / 32 floats
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) s += __ldg(row + c);
  for (int offset = 16; offset > 0; offset /= 2) s += __shfl_down_sync(0xffffffffu, s, offset);
  const int warp = threadIdx.x / warpSize, lane = threadIdx.x % warpSize;
  if (lane == 0) warp_sums[warp] = s;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / warpSize;
    s = lane < warps ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0) y[blockIdx.x] = s;
  }
}

}  // namespace

void row_sums(const float* x, float* y, int rows, int cols, void* stream) {
  if (rows == 0) return;
  constexpr int kThreads = 256;  // a multiple of 32: every warp is full
  MAPET_LAUNCH(row_sums_kernel, rows, kThreads, kThreads / 32 * sizeof(float), static_cast<cudaStream_t>(stream), x,
               y, cols);
}

}  // namespace mapet::simt_sample
