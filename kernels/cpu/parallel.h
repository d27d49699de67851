// Element-wise loops split over the OpenMP threads in fixed blocks. The split
// never depends on the thread count, so the vectorised body and its scalar tail
// (which may round differently, e.g. where FMAs are contracted) always see the
// same elements: results are bit-identical for any number of threads.
#pragma once
#include <algorithm>
#include <cstdint>

namespace mapet::cpu {

constexpr int64_t kElementBlock = 16384;  // a multiple of every vector width

template <class F>
void parallel_blocks(int64_t n, F fn) {
  const int64_t blocks = (n + kElementBlock - 1) / kElementBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) fn(b * kElementBlock, std::min(n, (b + 1) * kElementBlock));
}

}  // namespace mapet::cpu
