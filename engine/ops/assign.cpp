#include "engine/ops/assign.h"

#include "kernels/cpu/assign.h"

namespace mapet::ops {

AssignCentroids::AssignCentroids(const float* c, int64_t k, int64_t d)
    : c_(std::make_unique<cpu::AssignCentroids>(c, k, d)) {}

AssignCentroids::~AssignCentroids() = default;

int64_t AssignCentroids::bad_centroid() const { return c_->bad_centroid(); }

int64_t AssignCentroids::assign(const float* x, int64_t n, int64_t* ids, float* dist, AssignStats* stats) const {
  cpu::AssignStats s;
  const int64_t bad = cpu::assign(*c_, x, n, ids, dist, stats ? &s : nullptr);
  if (stats) stats->rows += s.rows, stats->reranked += s.reranked;
  return bad;
}

}  // namespace mapet::ops
