// Counter-based random draws for one sample: every value is a pure function of
// (seed, epoch, sample index, word), computed with Philox. Which thread decodes
// a sample, and in which order, can never change what it draws.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/philox.h"

namespace mapet::data {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Words [0, 64) crop, 64 flip, [65, 72) colour jitter: fixed regions, so a crop
// that needed more tries does not shift the flip draw.
enum RngWord : uint64_t { kWordCrop = 0, kWordFlip = 64, kWordJitter = 65 };

class SampleRng {
 public:
  SampleRng(uint64_t seed, uint64_t epoch, uint64_t index)
      : key_(splitmix64(seed ^ splitmix64(epoch ^ splitmix64(index ^ 0x6d617065745f6461ull)))) {}
  uint64_t key() const { return key_; }
  uint32_t u32(uint64_t word) const { return common::philox_u32(key_, word); }
  // Uniform in [0, 1) from 53 bits.
  double uniform(uint64_t word) const {
    uint64_t hi = u32(2 * word), lo = u32(2 * word + 1);
    return static_cast<double>(((hi << 32) | lo) >> 11) * 0x1.0p-53;
  }
  double uniform(uint64_t word, double lo, double hi) const { return lo + (hi - lo) * uniform(word); }
  // Integer in [0, n), n > 0.
  int64_t randint(uint64_t word, int64_t n) const {
    int64_t v = static_cast<int64_t>(uniform(word) * static_cast<double>(n));
    return v < n ? v : n - 1;
  }

 private:
  uint64_t key_;
};

}  // namespace mapet::data
