// cuda::gemm_cublaslt against a plain double-precision loop, on a GPU (ctest
// label gpu). Without one it says so and exits 77 (skipped); in every CUDA
// build it is compiled and linked, which is the check this machine can make.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/cuda/cublaslt_gemm.h"

int main() {
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
    std::printf("no GPU: cuBLASLt GEMM not run (skipped)\n");
    return 77;
  }
  // C = A B^T + bias, the shape of a linear layer: A [m, k], B [n, k] (both row-major), odd sizes.
  const int64_t m = 37, n = 29, k = 53;
  std::vector<float> a(m * k), b(n * k), bias(n), c(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.37 * double(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.23 * double(i));
  for (int64_t j = 0; j < n; ++j) bias[j] = 0.1f * float(j);
  float *da, *db, *dbias, *dc;
  void* ws;
  const size_t ws_bytes = 4 << 20;
  cudaMalloc(reinterpret_cast<void**>(&da), a.size() * 4);
  cudaMalloc(reinterpret_cast<void**>(&db), b.size() * 4);
  cudaMalloc(reinterpret_cast<void**>(&dbias), bias.size() * 4);
  cudaMalloc(reinterpret_cast<void**>(&dc), c.size() * 4);
  cudaMalloc(&ws, ws_bytes);
  cudaMemcpy(da, a.data(), a.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dbias, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice);
  mapet::common::GemmShape s;
  s.trans_b = true;
  s.m = m, s.n = n, s.k = k, s.lda = k, s.ldb = k, s.ldc = n;
  mapet::cuda::gemm_cublaslt(s, da, db, mapet::cuda::LtInput::f32, dc, 1.0f, 0.0f, dbias, ws, ws_bytes, nullptr);
  cudaMemcpy(c.data(), dc, c.size() * 4, cudaMemcpyDeviceToHost);
  double worst = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double want = bias[j];
      for (int64_t p = 0; p < k; ++p) want += double(a[i * k + p]) * double(b[j * k + p]);
      worst = std::fmax(worst, std::fabs(want - double(c[i * n + j])));
    }
  std::printf("cuBLASLt f32 GEMM %ldx%ldx%ld + bias: worst error %.3g\n", long(m), long(n), long(k), worst);
  return worst <= 1e-4 ? 0 : 1;
}
