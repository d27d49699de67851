// The tensor-core sample (tests/simt/tile_gemm.cu) against a CPU GEMM.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/simt/runtime.h"
#include "tests/simt/tile_gemm.h"

namespace {

TEST(SimtSample, TensorCoreGemmMatchesTheCpu) {
  const int M = 48, N = 40, K = 80;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<__nv_bfloat16> A(M * K), B(K * N);
  for (auto& v : A) v = __float2bfloat16(u(rng));
  for (auto& v : B) v = __float2bfloat16(u(rng));
  const std::vector<float> C = mapet::simt::run_in_every_order([&] {
    std::vector<float> out(M * N, -1.0f);
    mapet::simt_sample::tile_gemm(A.data(), B.data(), out.data(), M, N, K);
    return out;
  });
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) {
      double want = 0, scale = 0;
      for (int k = 0; k < K; ++k) {
        const double p = double(__bfloat162float(A[r * K + k])) * __bfloat162float(B[k * N + c]);
        want += p;
        scale += std::fabs(p);
      }
      // f32 accumulation over K / 16 = 5 mma steps: a few f32 ulps of the terms' scale.
      EXPECT_NEAR(C[r * N + c], want, 8 * scale * 0x1p-24) << r << "," << c;
    }
}

}  // namespace
