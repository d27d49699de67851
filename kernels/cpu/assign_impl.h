// Pieces shared by the centroid packing (assign.cpp) and the per-level sweep
// (assign_sweep.cpp). Internal linkage: each level compiles its own copy.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/common/assign.h"
#include "kernels/common/bf16.h"

namespace mapet::cpu::assign_detail {
namespace {

constexpr int kMR = 6;   // rows per micro tile
constexpr int kNR = 64;  // centroids per strip: four 16-lane vectors (6 x 4 accumulators fill 24 of 32 registers)
constexpr float kInf = std::numeric_limits<float>::infinity();

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// v - mu in f32, rounded to the sweep's precision, into out[d]; the norms are
// measured against v - mu in exact (float64) arithmetic.
inline common::AssignNorms center_and_round(const float* v, const float* mu, int64_t d, bool bf16, float* out) {
  double exact = 0, rounded = 0, error = 0;
  for (int64_t i = 0; i < d; ++i) {
    const double t = static_cast<double>(v[i]) - static_cast<double>(mu[i]);
    float r = v[i] - mu[i];
    if (bf16) r = common::bf16_to_float(common::float_to_bf16(r));
    out[i] = r;
    exact += t * t;
    rounded += static_cast<double>(r) * r;
    error += (r - t) * (r - t);
  }
  return {std::sqrt(exact), std::sqrt(rounded), std::sqrt(error)};
}

inline uint32_t bf16_pair(const float* v, int64_t i, int64_t d) {  // v[i] low, v[i + 1] high (0 past the end)
  uint32_t lo = common::float_to_bf16(v[i]), hi = i + 1 < d ? common::float_to_bf16(v[i + 1]) : 0;
  return lo | hi << 16;
}

inline double squared_distance64(const float* x, const float* c, int64_t d) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < d; ++i) {
    const double t = static_cast<double>(x[i]) - static_cast<double>(c[i]);
    s += t * t;
  }
  return s;
}

}  // namespace
}  // namespace mapet::cpu::assign_detail
