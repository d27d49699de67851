// The fused nearest-centroid kernel (kernels/cuda/assign.cu) against its CPU
// twin (kernels/cpu/assign.h) and the float64 brute force: the ids must be
// identical (both re-rank their candidates in float64; ties to the lowest id),
// the distances equal to f32 rounding. K is never a multiple of the 128-centroid
// tile, n never of the 64-row block; d = 37 is odd, d = 64 a whole number of stages.
#include "kernels/cuda/assign.cuh"

#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/assign.h"
#include "tests/kernels/twin.h"

namespace mapet {
namespace {

namespace twin = test::twin;

std::vector<float> normal(int64_t n, uint64_t seed, float std = 1.0f) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> dist(0.0f, std);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(g);
  return v;
}

// Rows near a few centres, centroids too (like patch features and their k-means codebook).
void clustered(int64_t n, int64_t k, int64_t d, uint64_t seed, std::vector<float>& x, std::vector<float>& c) {
  const int64_t clusters = 11;
  const std::vector<float> centres = normal(clusters * d, seed, 3.0f);
  x = normal(n * d, seed + 1), c = normal(k * d, seed + 2);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) x[r * d + i] += centres[(r % clusters) * d + i];
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < d; ++i) c[j * d + i] = 0.7f * c[j * d + i] + centres[(j * 7 % clusters) * d + i];
}

struct Result {
  std::vector<int64_t> ids;
  std::vector<float> dist;
};

// The kernel (tables and sweep) under simt in every thread order.
Result run_cuda(const std::vector<float>& x, const std::vector<float>& c, int64_t n, int64_t k, int64_t d) {
  twin::Case tc;
  const float* dx = tc.input(x);
  const float* dc = tc.input(c);
  void* tables = tc.output<unsigned char>(cuda::assign_centroids_bytes(k, d));
  int64_t* ids = tc.output<int64_t>(n);
  float* dist = tc.output<float>(n);
  tc.run([&] {
    const cuda::AssignCentroids cc = cuda::assign_centroids(dc, k, d, tables);
    cuda::assign(cc, dx, n, ids, dist);
  });
  return {tc.read(ids), tc.read(dist)};
}

// The CPU twin, on one OpenMP thread (idle OpenMP workers would spin against the simt threads).
Result run_cpu(const std::vector<float>& x, const std::vector<float>& c, int64_t n, int64_t k, int64_t d) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Result r{std::vector<int64_t>(n), std::vector<float>(n)};
  cpu::AssignCentroids cc(c.data(), k, d);
  cpu::assign(cc, x.data(), n, r.ids.data(), r.dist.data());
  omp_set_num_threads(threads);
  return r;
}

void expect_twins(const std::vector<float>& x, const std::vector<float>& c, int64_t n, int64_t k, int64_t d) {
  const std::string what = "n=" + std::to_string(n) + " k=" + std::to_string(k) + " d=" + std::to_string(d);
  const Result got = run_cuda(x, c, n, k, d), want = run_cpu(x, c, n, k, d);
  std::vector<int64_t> ref(n);
  cpu::assign_reference(x.data(), n, c.data(), k, d, ref.data());
  EXPECT_TRUE(twin::close(got.ids, want.ids, {}, "ids vs cpu::assign, " + what));
  EXPECT_TRUE(twin::close(got.ids, ref, {}, "ids vs assign_reference, " + what));
  EXPECT_TRUE(twin::close(got.dist, want.dist, {1e-6, 0}, "dist, " + what));
}

TEST(AssignTwin, ClusteredData) {
  std::vector<float> x, c;
  clustered(100, 300, 37, 1, x, c);
  expect_twins(x, c, 100, 300, 37);
  clustered(77, 300, 64, 2, x, c);
  expect_twins(x, c, 77, 300, 64);
}

TEST(AssignTwin, MidSize) {
  std::vector<float> x, c;
  clustered(389, 1000, 96, 3, x, c);
  expect_twins(x, c, 389, 1000, 96);
}

// Exact ties go to the lowest id: centroid 3 has 70 copies (more than a row's
// candidate list holds: the kernel's second pass), centroid 5 has 40 (the list
// is compacted past half full, and keeps them), 7 and 8 mirror each other
// around the origin, which is nearer to them than to the rest.
TEST(AssignTwin, TiesGoToTheLowestId) {
  const int64_t d = 37, k = 200, n = 70;
  std::vector<float> c = normal(k * d, 31), x = normal(n * d, 32);
  for (float& v : c) v += v >= 0 ? 30.0f : -30.0f;
  for (int64_t i = 0; i < d; ++i) {
    c[8 * d + i] = 2.0f * static_cast<float>(i % 5 + 1);
    c[7 * d + i] = -c[8 * d + i];
    for (int64_t j = 120; j < 190; ++j) c[j * d + i] = c[3 * d + i];
    for (int64_t j = 80; j < 120; ++j) c[j * d + i] = c[5 * d + i];
    x[4 * d + i] = c[5 * d + i] + 0.0625f;
    x[0 * d + i] = c[3 * d + i];
    x[1 * d + i] = c[3 * d + i] + 0.25f;
    x[2 * d + i] = x[3 * d + i] = 0.0f;
    x[69 * d + i] = c[3 * d + i] - 0.125f;  // in the second block of rows
  }
  const Result got = run_cuda(x, c, n, k, d);
  EXPECT_EQ(got.ids[0], 3);
  EXPECT_EQ(got.ids[1], 3);
  EXPECT_EQ(got.ids[2], 7);
  EXPECT_EQ(got.ids[3], 7);
  EXPECT_EQ(got.ids[4], 5);
  EXPECT_EQ(got.ids[69], 3);
  expect_twins(x, c, n, k, d);
}

TEST(AssignTwin, NonFiniteValues) {
  const int64_t d = 4, k = 3, n = 5;
  std::vector<float> x = normal(n * d, 51), c = normal(k * d, 52);
  x[2 * d + 1] = NAN;
  x[4 * d] = INFINITY;
  Result got = run_cuda(x, c, n, k, d);
  EXPECT_EQ(got.ids[2], -1);
  EXPECT_EQ(got.ids[4], -1);
  EXPECT_TRUE(std::isnan(got.dist[2]));
  expect_twins(x, c, n, k, d);  // cpu::assign gives -1 and NaN there too
  c[2 * d + 3] = NAN;           // cpu::assign refuses such centroids; the kernel answers -1 everywhere
  got = run_cuda(x, c, n, k, d);
  EXPECT_EQ(got.ids, std::vector<int64_t>(n, -1));
}

TEST(AssignTwin, RefusesWhatItCannotHold) {
  EXPECT_GE(cuda::assign_max_dim(), 1024);
  EXPECT_THROW(cuda::assign_centroids_bytes(10, cuda::assign_max_dim() + 1), std::invalid_argument);
  EXPECT_THROW(cuda::assign_centroids_bytes(0, 8), std::invalid_argument);
}

}  // namespace
}  // namespace mapet
