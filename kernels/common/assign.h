// Nearest-centroid assignment: the math both backends share.
//
// For a row x and centroids c_j, the nearest centroid minimises
//   score(j) = ||c'_j||^2 - 2 x'.c'_j      (= ||x - c_j||^2 - ||x'||^2)
// where x' = x - mu, c' = c - mu for any fixed mu (the kernels take the mean of
// the centroids: centering shrinks the norms below, hence the error margins).
// The fast pass computes an approximate score from rounded vectors (bf16 or
// f32) with one GEMM-like sweep. The error of that score has a bound that
// depends only on norms (below), so every centroid whose approximate score is
// within twice that bound of the best approximate score is a candidate, the
// true nearest centroid is always among them, and re-ranking the few
// candidates in float64 gives exactly the float64 answer (ties to the lowest id).
#pragma once
#include "kernels/common/hd.h"

namespace mapet::common {

constexpr double kUnitRoundoffF32 = 1.0 / 16777216.0;  // 2^-24
constexpr double kUnitRoundoffBf16 = 1.0 / 256.0;      // 2^-8 (8 significant bits)

// Norms of one side (a row, or the worst case over all centroids), float64.
struct AssignNorms {
  double exact = 0;    // ||v'||, v' = v - mu in exact arithmetic
  double rounded = 0;  // ||v~||, the vector the fast pass multiplies
  double error = 0;    // ||v~ - v'||, what rounding (and centering in f32) changed
};

// Bound on |approx_score(j) - score(j)| for every centroid j of one row, where
// approx_score = fl(c2_j - 2 fl(x~.c~_j)) with c2_j = fl(||c'_j||^2), the dot
// product accumulated in f32 over d terms. x: the row; c: maxima over the
// centroids; c2_max: the largest ||c'_j||^2.
//   x~.c~ - x'.c' = (x~ - x').c~ + x'.(c~ - c')                    (exact)
//   |.| <= ||dx|| ||c~|| + ||x'|| ||dc||                          (Cauchy-Schwarz)
//   f32 accumulation of d products: <= gamma_d ||x~|| ||c~||, gamma_d ~ d u
//   c2 rounding and the final fused multiply-add: <= u (c2 + |approx score|)
MAPET_HD double assign_score_error(const AssignNorms& x, const AssignNorms& c, double c2_max, long long d) {
  const double u = kUnitRoundoffF32;
  const double gamma = 1.01 * static_cast<double>(d + 4) * u;  // two roundings per step of a bf16 pair dot
  const double dot_error = x.error * c.rounded + x.exact * c.error + gamma * x.rounded * c.rounded;
  const double score_bound = c2_max + 2.0 * x.rounded * c.rounded * (1.0 + gamma);  // >= |scores| seen
  return 2.0 * dot_error + 2.0 * u * score_bound + 1e-30;  // 1e-30: bf16 dot products flush denormals
}

// The threshold below which an approximate score keeps its centroid as a
// candidate: the best approximate score so far plus this margin. Twice the
// error bound (the best's error plus the candidate's), with room for the f32
// rounding of `best + margin` itself.
MAPET_HD double assign_margin(const AssignNorms& x, const AssignNorms& c, double c2_max, long long d) {
  const double e = assign_score_error(x, c, c2_max, d);
  const double score_bound = c2_max + 2.0 * x.rounded * c.rounded * 1.01;
  return 2.0 * e * (1.0 + 1e-6) + 4.0 * kUnitRoundoffF32 * (score_bound + 2.0 * e);
}

// The order of candidates: smaller distance first, then the lower id.
MAPET_HD bool assign_better(double dist, long long id, double best_dist, long long best_id) {
  return dist < best_dist || (dist == best_dist && id < best_id);
}

}  // namespace mapet::common
