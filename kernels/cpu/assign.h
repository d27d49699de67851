// Nearest-centroid assignment on the CPU: for each row of X [n, d], the id of
// the nearest of K centroids C [k, d] in squared L2 distance, ties to the
// lowest id. One fused sweep: a blocked GEMM of X against C (bf16 dot products
// on CPUs with AVX-512 BF16, f32 otherwise) whose tiles go straight into a
// running minimum per row; the n x k distance matrix is never stored. The few
// centroids that the rounding could have misordered (kernels/common/assign.h
// bounds it) are re-ranked in float64, so the ids are exactly those of a
// float64 brute force, whatever the precision of the sweep or the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa.h"

namespace mapet::cpu {

enum class AssignPrecision {
  automatic,  // bf16 where the CPU has AVX-512 BF16, else f32
  bf16,       // bf16 dot products (twice the f32 rate); refused where the CPU lacks them
  f32,
};

// The centroids in the layout the sweep reads (built by AssignCentroids).
struct AssignTables {
  int64_t k = 0, d = 0, k_pad = 0, d_pad = 0;
  bool bf16 = false;                  // the sweep takes bf16 dot products
  std::vector<float> c;               // the centroids as given [k, d] (the float64 re-rank reads them)
  std::vector<float> mean;            // mu [d]
  std::vector<uint32_t> packed_bf16;  // strips of 64 centroids: [k_pad / 64][d_pad / 2][64] bf16 pairs
  std::vector<float> packed_f32;      // strips of 64 centroids: [k_pad / 64][d_pad][64]
  std::vector<float> c2;              // ||c - mu||^2 [k_pad]; +inf for the padding
  double max_rounded = 0, max_error = 0, max_c2 = 0;
};

// The centroids in the layout the sweep reads. Built once, then used by any
// number of assign() calls (k-means builds one per iteration).
class AssignCentroids {
 public:
  AssignCentroids(const float* c, int64_t k, int64_t d, AssignPrecision p = AssignPrecision::automatic);

  int64_t k() const { return t_.k; }
  int64_t d() const { return t_.d; }
  AssignPrecision precision() const { return t_.bf16 ? AssignPrecision::bf16 : AssignPrecision::f32; }
  const AssignTables& tables() const { return t_; }
  // The first centroid with a non-finite value or a squared norm beyond the
  // f32 range, -1 when all are usable. assign() refuses to run otherwise.
  int64_t bad_centroid() const { return bad_; }

 private:
  AssignTables t_;
  int64_t bad_ = -1;
};

struct AssignStats {
  int64_t rows = 0;
  int64_t reranked = 0;  // candidates re-ranked in float64 over all rows (>= rows)
};

// ids[n]: nearest centroid of each row (-1 for a row with a non-finite value);
// dist[n] (optional): its squared distance, computed in float64. Returns the
// first row with a non-finite value, or -1. Runs on the OpenMP threads.
int64_t assign(const AssignCentroids& c, const float* x, int64_t n, int64_t* ids, float* dist = nullptr,
               AssignStats* stats = nullptr);

// The sweep behind assign(), one per instruction-set level (assign_sweep.cpp):
// ids and dist of rows [0, n); returns the first row with a non-finite value
// (or -1) and adds the candidates it re-ranked to *reranked.
MAPET_ISA_FUNCTION(int64_t, assign_sweep,
                   (const AssignTables& t, const float* x, int64_t n, int64_t* ids, float* dist, int64_t* reranked),
                   (t, x, n, ids, dist, reranked))

// The plain reference: every distance in float64, ties to the lowest id.
void assign_reference(const float* x, int64_t n, const float* c, int64_t k, int64_t d, int64_t* ids,
                      double* dist = nullptr);

}  // namespace mapet::cpu
