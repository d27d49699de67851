// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Counter-based: the number at (key, counter) depends on nothing else, so every
// backend and every thread count draws the same values for the same seed.
#pragma once
#include "kernels/common/hd.h"

namespace mapet::common {

struct Philox4 {
  uint32_t v[4];
};

MAPET_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// One block of four 32-bit words for a 128-bit counter and a 64-bit key.
MAPET_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, ctr.v[0], hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, ctr.v[2], hi1, lo1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

// The i-th 32-bit word of the stream (seed, offset): word i lives in block
// (offset + i) / 4, lane (offset + i) % 4.
MAPET_HD uint32_t philox_u32(uint64_t seed, uint64_t index) {
  uint64_t block = index >> 2;
  Philox4 ctr{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}};
  Philox4 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[index & 3];
}

// Uniform in [0, 1) with 24 random bits (every value exactly representable).
MAPET_HD float u32_to_uniform(uint32_t u) { return static_cast<float>(u >> 8) * (1.0f / 16777216.0f); }

MAPET_HD float philox_uniform(uint64_t seed, uint64_t index) {
  return u32_to_uniform(philox_u32(seed, index));
}

}  // namespace mapet::common
