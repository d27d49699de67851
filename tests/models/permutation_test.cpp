#include "models/permutation.h"

#include <algorithm>
#include <set>

#include "tests/test_util.h"

namespace mapet {
namespace {

TEST(Permutation, IsASeededPermutation) {
  models::PermutationConfig c;
  auto a = models::sample_permutation(c, 7, 3), again = models::sample_permutation(c, 7, 3);
  auto other_sample = models::sample_permutation(c, 7, 4), other_seed = models::sample_permutation(c, 8, 3);
  EXPECT_EQ(a, again);
  EXPECT_NE(a, other_sample);
  EXPECT_NE(a, other_seed);
  std::vector<int32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int32_t i = 0; i < 196; ++i) ASSERT_EQ(sorted[i], i);
  auto rank = models::ranks_from_permutation(a);
  EXPECT_EQ(rank[0], 0);
  for (size_t r = 0; r < a.size(); ++r) EXPECT_EQ(rank[a[r] + 1], static_cast<int32_t>(r + 1));
}

TEST(Permutation, EveryPatchIsFirstAboutEquallyOften) {
  models::PermutationConfig c;
  c.grid = 3, c.least_number = 1;
  std::vector<int> first(9, 0);
  for (uint64_t s = 0; s < 9000; ++s) ++first[models::sample_permutation(c, 1, s)[0]];
  for (int f : first) EXPECT_NEAR(f, 1000, 150);
}

TEST(Permutation, BlockwiseKeepsSquareBlocksTogether) {
  models::PermutationConfig c;
  c.grid = 7, c.blockwise = true, c.block_size = 2;  // 7 is not a multiple of 2: edge blocks are smaller
  auto order = models::sample_permutation(c, 5, 0);
  ASSERT_EQ(order.size(), 49u);
  std::set<int32_t> seen(order.begin(), order.end());
  EXPECT_EQ(seen.size(), 49u);
  // Consecutive runs of the order belong to one block each.
  auto block_of = [](int32_t p) { return (p / 7 / 2) * 4 + (p % 7) / 2; };
  std::set<int> finished;
  for (size_t i = 0; i < order.size(); ++i) {
    int b = block_of(order[i]);
    EXPECT_FALSE(finished.count(b)) << "block " << b << " split";
    if (i + 1 == order.size() || block_of(order[i + 1]) != b) finished.insert(b);
  }
}

TEST(Permutation, RanksRejectANonPermutation) {
  EXPECT_THROW(models::ranks_from_permutation({0, 1, 1}), Error);
  EXPECT_THROW(models::ranks_from_permutation({0, 3, 1}), Error);
}

TEST(BlockMask, MasksExactlyCountInBlocks) {
  for (uint64_t s = 0; s < 50; ++s) {
    auto m = models::sample_block_mask(14, 75, 3, s);
    EXPECT_EQ(std::count(m.begin(), m.end(), 1), 75);
  }
  EXPECT_EQ(models::sample_block_mask(14, 75, 3, 9), models::sample_block_mask(14, 75, 3, 9));
  EXPECT_NE(models::sample_block_mask(14, 75, 3, 9), models::sample_block_mask(14, 75, 3, 10));
  // Blockwise: most masked patches have a masked 4-neighbour (random masking would give ~60%).
  auto m = models::sample_block_mask(14, 75, 4, 0);
  int with_neighbour = 0;
  for (int p = 0; p < 196; ++p) {
    if (!m[p]) continue;
    int y = p / 14, x = p % 14;
    bool n = (y > 0 && m[p - 14]) || (y < 13 && m[p + 14]) || (x > 0 && m[p - 1]) || (x < 13 && m[p + 1]);
    with_neighbour += n;
  }
  EXPECT_GT(with_neighbour, 65);
}

}  // namespace
}  // namespace mapet
