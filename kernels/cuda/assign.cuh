// Nearest-centroid assignment on the GPU (kernels/cuda/assign.cu): the twin of
// kernels/cpu/assign.h, with the same math (kernels/common/assign.h). One
// fused kernel: bf16 tensor-core tiles of ||c'||^2 - 2 x'.c' (x' = x - mu,
// c' = c - mu) with a running minimum per row, the n x k matrix never stored;
// the centroids whose score falls within the proven error margin of the best
// are re-ranked in float64. The ids are those of a float64 brute force, ties to
// the lowest id: the CPU kernel's ids, exactly.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mapet::cuda {

// The centroids in the layout the kernel reads (centred, bf16, padded; their
// norms; a copy of c for the re-rank), in device memory the caller owns:
// assign_centroids_bytes(k, d) bytes, 16-byte aligned. The twin of
// cpu::AssignCentroids, built by kernels; k-means rebuilds it after each update.
struct AssignCentroids {
  int64_t k = 0, d = 0;
  void* tables = nullptr;
};

// The largest d the kernel takes: a block's 64 rows live in shared memory.
int64_t assign_max_dim();
size_t assign_centroids_bytes(int64_t k, int64_t d);
// Throws std::invalid_argument unless 1 <= k < 2^31 and 1 <= d <= assign_max_dim().
AssignCentroids assign_centroids(const float* c, int64_t k, int64_t d, void* tables, void* stream = nullptr);

// ids[n]: the nearest centroid of each row of x [n, d] in squared L2 distance;
// -1 for a row with a non-finite value, and for every row when a centroid has
// one (cpu::assign throws then; a kernel cannot). dist[n] (optional): the
// squared distance, computed in float64 (NaN where the id is -1).
void assign(const AssignCentroids& c, const float* x, int64_t n, int64_t* ids, float* dist = nullptr,
            void* stream = nullptr);

}  // namespace mapet::cuda
