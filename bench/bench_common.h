// Helpers shared by the benchmarks: FLOP counts and a quick measurement of the
// machine's f32 GEMM peak (the denominator of MFU).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace mapet::bench {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (float& x : v) x = d(g);
  return v;
}

// Matmul FLOPs of one ViT forward for one image (2 per multiply-add):
//   patch embed        2 * P * (C p^2) * D
//   per block (x L)    24 * T * D^2        q (D^2) + kv (2 D^2) + proj (D^2) + fc1/fc2 (2 * 4 D^2)
//                    + 4 * T^2 * D         attention: Q K^T and P V, summed over heads
//   head               2 * D * classes
// with T = P + 1 tokens. A training step counts 3x this (the backward pass
// needs two GEMMs per forward GEMM: dX and dW), the usual MFU convention.
// LayerNorm, GELU, softmax and the optimizer are not counted.
inline double vit_forward_flops(double img, double patch, double chans, double dim, double depth, double mlp_ratio,
                                double classes) {
  const double P = (img / patch) * (img / patch), T = P + 1;
  const double block = 2 * T * dim * dim * (1 + 2 + 1 + 2 * mlp_ratio) + 4 * T * T * dim;
  return 2 * P * chans * patch * patch * dim + depth * block + 2 * dim * classes;
}

// Best-of-`reps` f32 GFLOP/s of an n^3 GEMM through cpu::gemm (the precision is
// set to f32 for the measurement and restored). MAPET_GEMM_PEAK_GFLOPS, when
// set, overrides the measurement (e.g. with the figure bench/gemm_peak printed).
inline double measure_f32_peak_gflops(int64_t n = 2048, int reps = 10) {
  if (const char* s = std::getenv("MAPET_GEMM_PEAK_GFLOPS")) return std::atof(s);
  const cpu::GemmPrecision saved = cpu::gemm_precision();
  cpu::set_gemm_precision(cpu::GemmPrecision::f32);
  std::vector<float> a = random_floats(n * n, 1), b = random_floats(n * n, 2), c(n * n);
  cpu::gemm(false, false, n, n, n, a.data(), b.data(), c.data());  // primitive creation, first touch
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    cpu::gemm(false, false, n, n, n, a.data(), b.data(), c.data());
    best = std::max(best, 2.0 * n * n * n / seconds_since(t0) / 1e9);
  }
  cpu::set_gemm_precision(saved);
  return best;
}

}  // namespace mapet::bench
