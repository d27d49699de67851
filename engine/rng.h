// Seeded random numbers from the counter-based Philox generator
// (kernels/common/philox.h). A Generator is a seed plus an offset into its
// stream; each draw takes the next block of the stream, so results depend only
// on the seed and the order of draws, never on the thread count or backend.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace mapet {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }

  // Reserves n words of the stream and returns where they start.
  uint64_t take(uint64_t n) {
    uint64_t start = offset_;
    offset_ += (n + 3) & ~uint64_t(3);  // keep blocks aligned to Philox's four lanes
    return start;
  }

  float uniform();                 // one value in [0, 1)
  uint64_t randint(uint64_t n);    // one value in [0, n)
  void uniform_(Tensor& t, float lo = 0.0f, float hi = 1.0f);
  void normal_(Tensor& t, float mean = 0.0f, float std = 1.0f);
  // Normal truncated to [mean - 2 std, mean + 2 std] by redrawing, as timm's trunc_normal_(std=.02).
  void trunc_normal_(Tensor& t, float std);

 private:
  uint64_t seed_;
  uint64_t offset_;
};

// Word `index` of the Philox stream keyed by `key`: for code above the engine
// that keeps its own counters (models/permutation.cpp) and must draw exactly
// what kernels/common/philox.h draws.
uint32_t philox_u32(uint64_t key, uint64_t index);

}  // namespace mapet
