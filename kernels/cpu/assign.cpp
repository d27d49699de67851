#include "kernels/cpu/assign.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/cpu/assign_impl.h"
#include "kernels/cpu/isa.h"

namespace mapet::cpu {

using namespace assign_detail;

AssignCentroids::AssignCentroids(const float* c, int64_t k, int64_t d, AssignPrecision p) {
  if (k <= 0 || d <= 0)
    throw std::invalid_argument("assign: need at least one centroid of at least one dimension, got k=" +
                                std::to_string(k) + ", d=" + std::to_string(d));
  const bool have_bf16 = native_bf16();  // the avx512_bf16 sweep has bf16 micro kernels
  if (p == AssignPrecision::bf16 && !have_bf16)
    throw std::invalid_argument("assign: bf16 precision needs AVX-512 BF16, which this CPU (or build) lacks");
  const bool bf16 = p == AssignPrecision::automatic ? have_bf16 : p == AssignPrecision::bf16;
  t_.k = k, t_.d = d, t_.bf16 = bf16;
  t_.k_pad = round_up(k, kNR);
  t_.d_pad = round_up(d, 2);
  t_.c.assign(c, c + k * d);

  std::vector<double> sum(d, 0.0);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < d; ++i) sum[i] += c[j * d + i];
  t_.mean.resize(d);
  for (int64_t i = 0; i < d; ++i) t_.mean[i] = static_cast<float>(sum[i] / static_cast<double>(k));
  // A centroid with a non-finite value poisons the mean: use 0 then, the
  // centroid is refused anyway (bad_centroid()).
  for (float& m : t_.mean)
    if (!std::isfinite(m)) m = 0.0f;

  t_.c2.assign(t_.k_pad, kInf);
  if (bf16) t_.packed_bf16.assign(t_.k_pad * t_.d_pad / 2, 0u);
  else t_.packed_f32.assign(t_.k_pad * t_.d_pad, 0.0f);
  int64_t bad = k;
  double max_rounded = 0, max_error = 0, max_c2 = 0;
  // Threads only pay off for large codebooks (a parallel region costs more than a small one).
#pragma omp parallel reduction(max : max_rounded, max_error, max_c2) reduction(min : bad) if (k * d > (1 << 18))
  {
    std::vector<float> row(d);
#pragma omp for schedule(static)
    for (int64_t j = 0; j < k; ++j) {
      const common::AssignNorms n = center_and_round(c + j * d, t_.mean.data(), d, bf16, row.data());
      const float c2 = static_cast<float>(n.exact * n.exact);
      if (!std::isfinite(n.rounded) || !std::isfinite(n.error) || !std::isfinite(c2)) {
        bad = std::min(bad, j);
        continue;
      }
      t_.c2[j] = c2;
      max_rounded = std::max(max_rounded, n.rounded);
      max_error = std::max(max_error, n.error);
      max_c2 = std::max(max_c2, n.exact * n.exact);
      const int64_t strip = j / kNR, lane = j % kNR;
      if (bf16) {
        uint32_t* dst = t_.packed_bf16.data() + strip * (t_.d_pad / 2) * kNR + lane;
        for (int64_t i = 0; i < d; i += 2) dst[(i / 2) * kNR] = bf16_pair(row.data(), i, d);
      } else {
        float* dst = t_.packed_f32.data() + strip * t_.d_pad * kNR + lane;
        for (int64_t i = 0; i < d; ++i) dst[i * kNR] = row[i];
      }
    }
  }
  bad_ = bad < k ? bad : -1;
  t_.max_rounded = max_rounded, t_.max_error = max_error, t_.max_c2 = max_c2;
}

int64_t assign(const AssignCentroids& c, const float* x, int64_t n, int64_t* ids, float* dist, AssignStats* stats) {
  if (c.bad_centroid() >= 0)
    throw std::invalid_argument("assign: centroid " + std::to_string(c.bad_centroid()) +
                                " has a non-finite value or a squared norm beyond the f32 range");
  int64_t reranked = 0;
  const int64_t first_bad = assign_sweep(c.tables(), x, n, ids, dist, &reranked);
  if (stats) {
    stats->rows += n;
    stats->reranked += reranked;
  }
  return first_bad;
}

void assign_reference(const float* x, int64_t n, const float* c, int64_t k, int64_t d, int64_t* ids, double* dist) {
  for (int64_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t best_id = -1;
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t t = 0; t < d; ++t) {
        const double diff = static_cast<double>(x[i * d + t]) - static_cast<double>(c[j * d + t]);
        s += diff * diff;
      }
      if (s < best) best = s, best_id = j;  // strict: the first (lowest) id wins a tie
    }
    ids[i] = best_id;
    if (dist) dist[i] = best;
  }
}

}  // namespace mapet::cpu
