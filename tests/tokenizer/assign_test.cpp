// The fused nearest-centroid kernel against the float64 brute force (ids must
// be identical: the kernel re-ranks its candidates in float64) and against
// Faiss IndexFlatL2 (identical except near-ties, which are counted).
#include "kernels/cpu/assign.h"

#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

namespace mapet::cpu {
namespace {

std::vector<float> normal(int64_t n, uint64_t seed, float mean = 0.0f, float std = 1.0f) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> dist(mean, std);
  std::vector<float> v(n);
  for (float& x : v) x = dist(g);
  return v;
}

std::vector<AssignPrecision> precisions() {
  std::vector<AssignPrecision> p{AssignPrecision::f32};
  if (native_bf16()) p.push_back(AssignPrecision::bf16);
  return p;
}

const char* name(AssignPrecision p) { return p == AssignPrecision::bf16 ? "bf16" : "f32"; }

// Runs the kernel and the reference; ids must match exactly, distances to f32 rounding.
void expect_matches_reference(const std::vector<float>& x, const std::vector<float>& c, int64_t n, int64_t k,
                              int64_t d, AssignPrecision p, int64_t* reranked = nullptr) {
  std::vector<int64_t> got(n), want(n);
  std::vector<float> dist(n);
  std::vector<double> want_dist(n);
  AssignCentroids packed(c.data(), k, d, p);
  AssignStats stats;
  EXPECT_EQ(assign(packed, x.data(), n, got.data(), dist.data(), &stats), -1);
  assign_reference(x.data(), n, c.data(), k, d, want.data(), want_dist.data());
  int wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (got[i] != want[i] && ++wrong <= 5)
      ADD_FAILURE() << name(p) << " n=" << n << " k=" << k << " d=" << d << ": row " << i << " got " << got[i]
                    << " want " << want[i];
    EXPECT_NEAR(dist[i], want_dist[i], 1e-6 * (1 + want_dist[i]));
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(stats.rows, n);
  EXPECT_GE(stats.reranked, n);
  if (reranked) *reranked = stats.reranked;
}

TEST(Assign, MatchesFloat64ReferenceOnAwkwardSizes) {
  uint64_t seed = 1;
  for (AssignPrecision p : precisions())
    for (int64_t d : {1, 2, 3, 17, 48, 129})
      for (int64_t k : {1, 5, 63, 64, 65, 130})
        for (int64_t n : {1, 7, 13, 100}) {
          std::vector<float> x = normal(n * d, seed++), c = normal(k * d, seed++);
          expect_matches_reference(x, c, n, k, d, p);
        }
}

// Centroids that bf16 (8 significant bits) cannot tell apart: 40 tiny
// variations of one vector. Only the float64 re-rank can order them, so a
// margin too small for the rounding picks the wrong ones.
TEST(Assign, ReranksCentroidsThatRoundingCannotSeparate) {
  const int64_t d = 96, k = 40, n = 300;
  std::vector<float> base = normal(d, 11), c(k * d), x(n * d);
  std::vector<float> tiny = normal(k * d, 12, 0.0f, 2e-3f), rows = normal(n * d, 13, 0.0f, 3e-3f);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < d; ++i) c[j * d + i] = base[i] + tiny[j * d + i];
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) x[r * d + i] = base[i] + rows[r * d + i];
  for (AssignPrecision p : precisions()) {
    int64_t reranked = 0;
    expect_matches_reference(x, c, n, k, d, p, &reranked);
    // Centering on the mean of the centroids keeps the margins small even here.
    EXPECT_LT(reranked, n * k) << name(p);
  }
}

// A large common offset (pixels in [0, 255], CLIP features) must not widen the
// margins into re-ranking everything: the kernel centers on the centroid mean.
TEST(Assign, LargeOffsetKeepsFewCandidates) {
  const int64_t d = 64, k = 256, n = 500;
  std::vector<float> c = normal(k * d, 21, 1000.0f, 1.0f), x = normal(n * d, 22, 1000.0f, 1.0f);
  for (AssignPrecision p : precisions()) {
    int64_t reranked = 0;
    expect_matches_reference(x, c, n, k, d, p, &reranked);
    EXPECT_LT(reranked, n * k / 4) << name(p) << ": " << reranked << " re-ranked for " << n << " rows";
  }
}

TEST(Assign, TiesGoToTheLowestId) {
  const int64_t d = 5, k = 130;
  std::vector<float> c = normal(k * d, 31);
  // Push every centroid away from the origin, then place 7 and 8 as mirror
  // images around it: the origin is exactly equidistant from both, nearer than the rest.
  for (float& v : c) v += v >= 0 ? 30.0f : -30.0f;
  for (int64_t i = 0; i < d; ++i) {
    c[8 * d + i] = 2.0f * (i + 1);
    c[7 * d + i] = -2.0f * (i + 1);
    c[100 * d + i] = c[129 * d + i] = c[3 * d + i];  // 3 = 100 = 129
  }
  std::vector<float> x(4 * d, 0.0f);  // rows 2 and 3: the origin
  for (int64_t i = 0; i < d; ++i) {
    x[i] = c[3 * d + i];
    x[d + i] = c[3 * d + i] + 0.25f;
  }
  for (AssignPrecision p : precisions()) {
    AssignCentroids packed(c.data(), k, d, p);
    std::vector<int64_t> ids(4);
    assign(packed, x.data(), 4, ids.data());
    EXPECT_EQ(ids[0], 3) << name(p);
    EXPECT_EQ(ids[1], 3) << name(p);
    EXPECT_EQ(ids[2], 7) << name(p);
    EXPECT_EQ(ids[3], 7) << name(p);
    std::vector<int64_t> want(4);
    assign_reference(x.data(), 4, c.data(), k, d, want.data());
    EXPECT_EQ(ids, want) << name(p);
  }
}

TEST(Assign, SameIdsForAnyThreadCount) {
  const int64_t d = 33, k = 200, n = 1001;
  std::vector<float> x = normal(n * d, 41), c = normal(k * d, 42);
  AssignCentroids packed(c.data(), k, d);
  std::vector<int64_t> one(n), two(n);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  assign(packed, x.data(), n, one.data());
  omp_set_num_threads(3);
  assign(packed, x.data(), n, two.data());
  omp_set_num_threads(saved);
  EXPECT_EQ(one, two);
}

TEST(Assign, NonFiniteInputsAreReported) {
  const int64_t d = 4, k = 3, n = 5;
  std::vector<float> x = normal(n * d, 51), c = normal(k * d, 52);
  x[2 * d + 1] = NAN;
  x[4 * d] = INFINITY;
  AssignCentroids packed(c.data(), k, d);
  EXPECT_EQ(packed.bad_centroid(), -1);
  std::vector<int64_t> ids(n);
  EXPECT_EQ(assign(packed, x.data(), n, ids.data()), 2);
  EXPECT_EQ(ids[2], -1);
  EXPECT_EQ(ids[4], -1);
  EXPECT_GE(ids[0], 0);
  c[2 * d + 3] = NAN;
  AssignCentroids bad(c.data(), k, d);
  EXPECT_EQ(bad.bad_centroid(), 2);
  EXPECT_THROW(assign(bad, x.data(), n, ids.data()), std::invalid_argument);
  if (!native_bf16()) {
    EXPECT_THROW(AssignCentroids(c.data(), k, d, AssignPrecision::bf16), std::invalid_argument);
  }
}

// Faiss computes ||x||^2 + ||c||^2 - 2 x.c in f32 (BLAS), so where two
// centroids are nearly equidistant it may pick the other one. Those rows must
// be near-ties in float64, and few.
TEST(Assign, AgreesWithFaissIndexFlatL2ExceptNearTies) {
  const int64_t d = 64, k = 300, n = 3000, clusters = 40;
  // Clustered data, like patch features: rows near a few centres, centroids too.
  std::vector<float> centres = normal(clusters * d, 61, 0.0f, 3.0f), x = normal(n * d, 62), c = normal(k * d, 63);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) x[r * d + i] += centres[(r % clusters) * d + i];
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < d; ++i) c[j * d + i] = 0.7f * c[j * d + i] + centres[(j % clusters) * d + i];
  faiss::IndexFlatL2 index(d);
  index.add(k, c.data());
  std::vector<faiss::Index::idx_t> faiss_ids(n);
  std::vector<float> faiss_dist(n);
  index.search(n, x.data(), 1, faiss_dist.data(), faiss_ids.data());

  std::vector<int64_t> ours(n);
  AssignCentroids packed(c.data(), k, d);
  assign(packed, x.data(), n, ours.data());
  int64_t differ = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (ours[r] == faiss_ids[r]) continue;
    ++differ;
    auto dist64 = [&](int64_t j) {
      double s = 0;
      for (int64_t i = 0; i < d; ++i) s += std::pow(double(x[r * d + i]) - double(c[j * d + i]), 2);
      return s;
    };
    const double a = dist64(ours[r]), b = dist64(faiss_ids[r]);
    EXPECT_LE(a, b) << "row " << r << ": ours is farther than Faiss's";
    // Faiss's f32 cancellation error: a few ulps of ||x||^2 + ||c||^2.
    EXPECT_LE(b - a, 1e-5 * (a + 2 * d * 9)) << "row " << r << ": not a near-tie";
  }
  std::printf("Faiss IndexFlatL2 and assign() differ on %lld of %lld rows (near-ties)\n", (long long)differ,
              (long long)n);
  EXPECT_LE(differ, n / 100);
}

}  // namespace
}  // namespace mapet::cpu
