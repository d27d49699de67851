// k-means through Faiss with the fused kernel as its assignment index gives
// the centroids Faiss's own IndexFlatL2 gives (the algorithm is Faiss's; only
// the nearest-centroid search differs, and it returns the same ids here).
#include "models/tokenizer/kmeans.h"

#include <gtest/gtest.h>

#include <random>

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include "models/tokenizer/faiss_assign_index.h"

namespace mapet::tokenizer {
namespace {

Tensor blobs(int64_t n, int64_t d, int64_t centres, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> c(centres * d), x(n * d);
  for (float& v : c) v = 10.0f * normal(g);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) x[r * d + i] = c[(r % centres) * d + i] + normal(g);
  return Tensor::from_vector(x, {n, d});
}

TEST(KMeans, SameCentroidsAsFaissOwnAssignment) {
  Tensor x = blobs(3000, 24, 25, 1);
  KMeansOptions o;
  o.k = 40, o.niter = 8, o.nredo = 2, o.seed = 7;
  KMeansResult ours = train_kmeans(x, o);
  o.faiss_flat_assign = true;
  KMeansResult theirs = train_kmeans(x, o);
  ASSERT_EQ(ours.centroids.shape(), (Shape{40, 24}));
  EXPECT_EQ(ours.centroids.to_vector(), theirs.centroids.to_vector());
  ASSERT_EQ(ours.objective.size(), 8u);  // Faiss keeps the iterations of the best redo
  EXPECT_NEAR(ours.objective.back(), theirs.objective.back(), 1e-4 * theirs.objective.back());
  EXPECT_LT(ours.objective.back(), ours.objective.front());
  EXPECT_EQ(ours.points_used, 3000);
}

TEST(KMeans, RefusesTooSmallOrNonFiniteSamples) {
  KMeansOptions o;
  o.k = 10;
  EXPECT_THROW(train_kmeans(blobs(5, 4, 2, 1), o, "tiny sample"), Error);
  Tensor x = blobs(100, 4, 2, 1);
  x.data<float>()[17] = NAN;
  try {
    train_kmeans(x, o, "sample of val");
    FAIL() << "no error for a NaN";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample of val"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vector 4"), std::string::npos) << e.what();
  }
}

TEST(FaissAssignIndex, SearchesLikeIndexFlatL2) {
  Tensor c = blobs(50, 8, 50, 2), x = blobs(300, 8, 50, 3);
  FaissAssignIndex index(8);
  index.add(20, c.data<float>());
  index.add(30, c.data<float>() + 20 * 8);  // appended: ids continue
  std::vector<faiss::Index::idx_t> ids(300);
  std::vector<float> dist(300);
  index.search(300, x.data<float>(), 1, dist.data(), ids.data());
  faiss::IndexFlatL2 flat(8);
  flat.add(50, c.data<float>());
  std::vector<faiss::Index::idx_t> want(300);
  std::vector<float> want_dist(300);
  flat.search(300, x.data<float>(), 1, want_dist.data(), want.data());
  EXPECT_EQ(ids, want);
  for (int i = 0; i < 300; ++i) EXPECT_NEAR(dist[i], want_dist[i], 1e-4 * (1 + want_dist[i]));
  EXPECT_EQ(index.stats().rows, 300);
  EXPECT_THROW(index.search(300, x.data<float>(), 2, dist.data(), ids.data()), faiss::FaissException);
  index.reset();
  EXPECT_EQ(index.ntotal, 0);
  EXPECT_THROW(index.search(1, x.data<float>(), 1, dist.data(), ids.data()), faiss::FaissException);
}

}  // namespace
}  // namespace mapet::tokenizer
