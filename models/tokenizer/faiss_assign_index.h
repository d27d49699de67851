// A Faiss index whose only job is k-means assignment (search with k = 1)
// through the fused assignment op (engine/ops/assign.h). faiss::Clustering takes any
// index for its assignment step: with this one the k-means algorithm is Faiss's
// own (sampling, initialisation, centroid update, splitting of empty clusters,
// redos) and only the nearest-centroid search, nearly all of the time, is ours.
#pragma once
#include <faiss/Index.h>

#include <memory>
#include <vector>

#include "engine/ops/assign.h"

namespace mapet::tokenizer {

class FaissAssignIndex : public faiss::Index {
 public:
  explicit FaissAssignIndex(int64_t d);

  void add(idx_t n, const float* x) override;  // appends centroids
  void reset() override;
  // k must be 1; distances are squared L2 computed in float64.
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;

  // Rows assigned and candidates re-ranked over every search.
  const ops::AssignStats& stats() const { return stats_; }

 private:
  std::vector<float> centroids_;
  // Built from centroids_ at the first search after a change (search is const in Faiss).
  mutable std::unique_ptr<ops::AssignCentroids> packed_;
  mutable ops::AssignStats stats_;
};

}  // namespace mapet::tokenizer
