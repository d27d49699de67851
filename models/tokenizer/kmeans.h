// k-means training of a tokenizer's codebook with Faiss (faiss::Clustering),
// the paper's settings as defaults: k = 8192, 20 iterations, 5 redos (the best
// objective is kept), at most 512 points per centroid (Faiss subsamples a
// larger set), float32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mapet::tokenizer {

struct KMeansOptions {
  int64_t k = 8192;
  int niter = 20;
  int nredo = 5;
  int max_points_per_centroid = 512;
  int seed = 1234;
  bool verbose = false;
  // Assignment step: the fused kernel (FaissAssignIndex), or Faiss's own
  // IndexFlatL2 (the peer, for benchmarks and checks).
  bool faiss_flat_assign = false;
};

struct KMeansResult {
  Tensor centroids;                      // f32 [k, d]
  // Per iteration of the best redo (Faiss keeps only those); the first also
  // holds the initialisation and any earlier redos.
  std::vector<double> iteration_seconds;
  std::vector<double> search_seconds;  // the assignment part of each
  std::vector<float> objective;        // sum of squared distances at each iteration
  int64_t points_used = 0;                // after Faiss's subsampling
};

// x: f32 [n, d] training vectors, n >= k. Throws Error naming `what` when the
// sample is too small or holds a non-finite value.
KMeansResult train_kmeans(const Tensor& x, const KMeansOptions& o, const std::string& what = "k-means sample");

}  // namespace mapet::tokenizer
