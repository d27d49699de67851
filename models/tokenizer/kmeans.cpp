#include "models/tokenizer/kmeans.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "models/tokenizer/faiss_assign_index.h"

namespace mapet::tokenizer {

KMeansResult train_kmeans(const Tensor& x, const KMeansOptions& o, const std::string& what) {
  if (x.dtype() != DType::f32 || x.dim() != 2) throw Error(what + ": expected f32 [n, d], got " + x.str());
  const int64_t n = x.size(0), d = x.size(1);
  if (o.k < 1 || n < o.k)
    throw Error(what + ": " + std::to_string(n) + " vectors cannot train " + std::to_string(o.k) +
                " centroids (need at least as many vectors as centroids; sample more patches or lower --num-tokens)");
  Tensor xc = x.contiguous();
  const float* px = xc.data<float>();
  for (int64_t i = 0; i < n * d; ++i)
    if (!std::isfinite(px[i])) throw Error(what + ": vector " + std::to_string(i / d) + " has a non-finite value");

  faiss::ClusteringParameters cp;
  cp.niter = o.niter;
  cp.nredo = o.nredo;
  cp.max_points_per_centroid = o.max_points_per_centroid;
  cp.seed = o.seed;
  cp.verbose = o.verbose;
  faiss::Clustering clus(static_cast<int>(d), static_cast<int>(o.k), cp);
  std::unique_ptr<faiss::Index> index;
  if (o.faiss_flat_assign) index = std::make_unique<faiss::IndexFlatL2>(d);
  else index = std::make_unique<FaissAssignIndex>(d);
  try {
    clus.train(n, px, *index);
  } catch (const faiss::FaissException& e) {
    throw Error(what + ": Faiss k-means failed: " + e.what());
  }

  KMeansResult r;
  r.centroids = Tensor::empty({o.k, d});
  std::copy(clus.centroids.begin(), clus.centroids.end(), r.centroids.data<float>());
  // Faiss's times are cumulative from the start of train(): take differences.
  double time = 0, search = 0;
  for (const faiss::ClusteringIterationStats& s : clus.iteration_stats) {
    r.iteration_seconds.push_back(s.time - time);
    r.search_seconds.push_back(s.time_search - search);
    r.objective.push_back(s.obj);
    time = s.time, search = s.time_search;
  }
  const int64_t cap = o.k * static_cast<int64_t>(o.max_points_per_centroid);
  r.points_used = std::min(n, cap);
  return r;
}

}  // namespace mapet::tokenizer
