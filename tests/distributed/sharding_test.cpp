// The sampler's shards across the ranks that run this binary (each rank draws
// its own; an all-reduce of per-image counts joins them): every image exactly
// once per epoch for evaluation, at most once (and the same count per rank)
// for training, uneven sizes included; and N ranks at batch B/N read, batch
// by batch, the images one process at batch B reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/sampler.h"
#include "engine/distributed/communicator.h"

namespace mapet {
namespace {

std::vector<int64_t> counts_over_ranks(int64_t n, const std::vector<int64_t>& mine) {
  std::vector<int64_t> c(static_cast<size_t>(n), 0);
  for (int64_t i : mine) ++c[static_cast<size_t>(i)];
  dist::world().all_reduce(c.data(), n, dist::Elem::i64, "the test's image counts");
  return c;
}

TEST(Sharding, EvaluationCountsEveryImageOnce) {
  dist::Communicator& w = dist::world();
  for (int64_t n : {0, 1, 2, 3, 63, 64, 65, 101})
    for (bool shuffle : {false, true}) {
      data::SamplerOptions o;
      o.shuffle = shuffle, o.seed = 7, o.rank = w.rank(), o.world = w.size(), o.even_shards = false;
      const std::vector<int64_t> mine = data::epoch_order(n, 3, o);
      for (int64_t c : counts_over_ranks(n, mine)) ASSERT_EQ(c, 1) << "n " << n;
      EXPECT_LE(int64_t(mine.size()), (n + w.size() - 1) / w.size());
      EXPECT_GE(int64_t(mine.size()), n / w.size());
    }
}

TEST(Sharding, TrainingShardsAreDisjointAndEven) {
  dist::Communicator& w = dist::world();
  for (int64_t n : {1, 2, 3, 63, 64, 65, 101})
    for (int64_t epoch : {0, 1}) {
      data::SamplerOptions o;
      o.seed = 7, o.rank = w.rank(), o.world = w.size();
      const std::vector<int64_t> mine = data::epoch_order(n, epoch, o);
      EXPECT_EQ(int64_t(mine.size()), n / w.size()) << "n " << n;
      int64_t dropped = 0;
      for (int64_t c : counts_over_ranks(n, mine)) {
        ASSERT_LE(c, 1) << "n " << n;
        dropped += c == 0;
      }
      EXPECT_EQ(dropped, n % w.size());
    }
}

TEST(Sharding, RanksAtBOverNReadTheBatchesOfOneProcessAtB) {
  dist::Communicator& w = dist::world();
  const int64_t n = 64, per_rank = 4, B = per_rank * w.size();
  data::SamplerOptions one;
  one.seed = 9;
  const std::vector<int64_t> all = data::epoch_order(n, 2, one);
  data::SamplerOptions o = one;
  o.rank = w.rank(), o.world = w.size();
  const std::vector<int64_t> mine = data::epoch_order(n, 2, o);
  for (int64_t b = 0; b < n / B; ++b) {
    std::vector<int64_t> batch(mine.begin() + b * per_rank, mine.begin() + (b + 1) * per_rank);
    const std::vector<int64_t> c = counts_over_ranks(n, batch);
    for (int64_t j = b * B; j < (b + 1) * B; ++j) ASSERT_EQ(c[size_t(all[size_t(j)])], 1) << "batch " << b;
    EXPECT_EQ(std::count(c.begin(), c.end(), 1), B);
  }
}

}  // namespace
}  // namespace mapet
