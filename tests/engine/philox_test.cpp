// Philox4x32-10 (kernels/common/philox.h) against the known-answer vectors of
// Random123 (kat_vectors, "philox4x32 10"), cross-checked with an independent
// Python implementation of the same rounds.
#include "kernels/common/philox.h"

#include <gtest/gtest.h>

namespace mapet {
namespace {

struct Kat {
  uint32_t ctr[4], key[2], want[4];
};

TEST(Philox, Random123KnownAnswers) {
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    common::Philox4 r =
        common::philox4x32_10(common::Philox4{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.want[i]) << "lane " << i << " of ctr " << std::hex << k.ctr[0];
  }
}

// Word i of stream (seed, offset) is lane i % 4 of the block at counter i / 4, key = seed.
TEST(Philox, StreamWordsAreBlockLanes) {
  const uint64_t seed = 0x299f31d0a4093822ull;
  for (uint64_t block : {uint64_t{0}, uint64_t{1}, uint64_t{0x1'0000'0003}}) {
    common::Philox4 r =
        common::philox4x32_10(common::Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0}},
                              0xa4093822u, 0x299f31d0u);
    for (uint64_t lane = 0; lane < 4; ++lane) EXPECT_EQ(common::philox_u32(seed, 4 * block + lane), r.v[lane]);
  }
  EXPECT_EQ(common::u32_to_uniform(0), 0.0f);
  EXPECT_LT(common::u32_to_uniform(0xffffffffu), 1.0f);
}

}  // namespace
}  // namespace mapet
