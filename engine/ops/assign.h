// Nearest-centroid assignment, the tokenizers' step (codebooks, k-means): for
// each row of X [n, d], the id of the nearest of k centroids C [k, d] in
// squared L2, ties to the lowest id, exactly those of a float64 brute force
// (kernels/cpu/assign.h says how). CPU only: the packed centroids are host memory.
#pragma once
#include <cstdint>
#include <memory>

namespace mapet::cpu {
class AssignCentroids;
}

namespace mapet::ops {

struct AssignStats {
  int64_t rows = 0;
  int64_t reranked = 0;  // candidates re-ranked in float64 over all rows (>= rows)
};

// The centroids packed once, for any number of assign() calls.
class AssignCentroids {
 public:
  // c: [k, d]; copied. Throws std::invalid_argument for k or d < 1.
  AssignCentroids(const float* c, int64_t k, int64_t d);
  ~AssignCentroids();
  AssignCentroids(const AssignCentroids&) = delete;
  AssignCentroids& operator=(const AssignCentroids&) = delete;

  // The first centroid with a non-finite value or a squared norm beyond the
  // f32 range, -1 when all are usable. assign() refuses to run otherwise.
  int64_t bad_centroid() const;
  // ids[n]: the nearest centroid of each row of x [n, d] (-1 for a row with a
  // non-finite value); dist[n] (optional): its squared distance, in float64.
  // Returns the first row with a non-finite value, or -1. stats (optional) adds up.
  int64_t assign(const float* x, int64_t n, int64_t* ids, float* dist = nullptr, AssignStats* stats = nullptr) const;

 private:
  std::unique_ptr<cpu::AssignCentroids> c_;
};

}  // namespace mapet::ops
