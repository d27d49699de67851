// Synthetic patch features for the assignment and k-means benchmarks: rows
// drawn around 1024 modes (so nearest centroids are meaningfully nearer than
// the rest, as for real features), centroids taken from the same distribution
// (as k-means initialises them).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace mapet::bench {

inline std::vector<float> clustered_rows(int64_t n, int64_t d, uint64_t seed, int64_t modes = 1024) {
  std::mt19937_64 g(1);  // the same modes for every call
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> centres(modes * d);
  for (float& v : centres) v = normal(g);
  g.seed(seed);
  std::vector<float> x(n * d);
  for (int64_t r = 0; r < n; ++r) {
    const float* c = centres.data() + (g() % modes) * d;
    for (int64_t i = 0; i < d; ++i) x[r * d + i] = c[i] + 0.5f * normal(g);
  }
  return x;
}

}  // namespace mapet::bench
