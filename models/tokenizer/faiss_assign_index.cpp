#include "models/tokenizer/faiss_assign_index.h"

#include <faiss/impl/FaissAssert.h>

#include <string>

namespace mapet::tokenizer {

FaissAssignIndex::FaissAssignIndex(int64_t d) : faiss::Index(d, faiss::METRIC_L2) { is_trained = true; }

void FaissAssignIndex::add(idx_t n, const float* x) {
  centroids_.insert(centroids_.end(), x, x + n * d);
  ntotal += n;
  packed_.reset();  // rebuilt on the next search, once all centroids are in
}

void FaissAssignIndex::reset() {
  centroids_.clear();
  ntotal = 0;
  packed_.reset();
}

void FaissAssignIndex::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                              const faiss::SearchParameters*) const {
  if (k != 1) FAISS_THROW_MSG("FaissAssignIndex: only k = 1 (nearest centroid) is supported");
  if (ntotal == 0) FAISS_THROW_MSG("FaissAssignIndex: search before any centroid was added");
  if (!packed_) packed_ = std::make_unique<ops::AssignCentroids>(centroids_.data(), ntotal, d);
  static_assert(sizeof(idx_t) == sizeof(int64_t));
  int64_t bad = packed_->assign(x, n, reinterpret_cast<int64_t*>(labels), distances, &stats_);
  if (bad >= 0) FAISS_THROW_FMT("FaissAssignIndex: training vector %lld has a non-finite value", (long long)bad);
}

}  // namespace mapet::tokenizer
