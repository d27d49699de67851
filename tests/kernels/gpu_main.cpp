// main() of gpu_kernels_tests: the twin cases of tests/kernels/ compiled with
// MAPET_TWIN_GPU against the nvcc-built kernels (mapet_kernels_cuda), run on
// a real GPU (ctest label `gpu`). Where there is none it exits 77, which
// ctest reports as skipped, printing why.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("skipped: no GPU here (cudaGetDeviceCount: %s, %d devices); the same cases ran under "
                "kernels/simt as kernels_tests (label cuda)\n",
                e == cudaSuccess ? "ok" : cudaGetErrorString(e), count);
    return 77;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
    std::printf("GPU 0: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  return RUN_ALL_TESTS();
}
