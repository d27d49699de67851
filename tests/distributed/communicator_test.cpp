// Communicator collectives on whatever world runs the binary: one process
// (SingleProcess) or `mpirun -np 2` (MPI). Sizes 0, 1, odd and large; every
// element type; results bit-identical on every rank.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "engine/distributed/communicator.h"
#include "kernels/common/bf16.h"

namespace mapet::dist {
namespace {

const std::vector<int64_t> kSizes{0, 1, 7, 4099, (int64_t(1) << 20) + 3};

// r + 1 summed over the ranks.
double rank_sum(const Communicator& w) { return double(w.size()) * double(w.size() + 1) / 2; }

TEST(Communicator, WorldIsConsistent) {
  Communicator& w = world();
  EXPECT_GE(w.size(), 1);
  EXPECT_GE(w.rank(), 0);
  EXPECT_LT(w.rank(), w.size());
  EXPECT_LE(w.local_size(), w.size());
  EXPECT_LT(w.local_rank(), w.local_size());
  int64_t size = w.size();
  w.all_reduce(&size, 1, Elem::i64, "world size check");
  EXPECT_EQ(size, int64_t(w.size()) * w.size());
  if (w.size() > 1) {
    EXPECT_STREQ(w.backend(), "mpi");
  }
}

TEST(Communicator, AllReduceF32) {
  Communicator& w = world();
  for (int64_t n : kSizes) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float((w.rank() + 1) * (i % 97));
    w.all_reduce(v.data(), n, Elem::f32, "test all-reduce");
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(v[size_t(i)], float(rank_sum(w) * double(i % 97))) << "n " << n << ", element " << i;
  }
}

TEST(Communicator, AllReduceBf16AddsInF32AndRounds) {
  Communicator& w = world();
  for (int64_t n : kSizes) {
    std::vector<uint16_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = common::float_to_bf16(float((w.rank() + 1) * (i % 13)));
    w.all_reduce(v.data(), n, Elem::bf16, "test bf16 all-reduce");
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(common::bf16_to_float(v[size_t(i)]), float(rank_sum(w) * double(i % 13))) << "n " << n;
  }
  // 1 + 2^-8 is not a bf16: every partial sum is rounded to nearest even, as one f32 add then a rounding.
  uint16_t x = common::float_to_bf16(w.rank() == 0 ? 1.0f : 0.00390625f);
  w.all_reduce(&x, 1, Elem::bf16, "test bf16 rounding");
  float want = 1.0f;
  for (int r = 1; r < w.size(); ++r) want = common::bf16_to_float(common::float_to_bf16(want + 0.00390625f));
  EXPECT_EQ(common::bf16_to_float(x), want);
}

TEST(Communicator, AllReduceF64AndI64) {
  Communicator& w = world();
  for (int64_t n : kSizes) {
    std::vector<double> d(size_t(n), 0.5 * (w.rank() + 1));
    std::vector<int64_t> k(size_t(n), (int64_t(1) << 40) * (w.rank() + 1));
    w.all_reduce(d.data(), n, Elem::f64, "test f64 all-reduce");
    w.all_reduce(k.data(), n, Elem::i64, "test i64 all-reduce");
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(d[size_t(i)], 0.5 * rank_sum(w));
      ASSERT_EQ(k[size_t(i)], (int64_t(1) << 40) * int64_t(rank_sum(w)));
    }
  }
}

TEST(Communicator, AllReduceIsBitIdenticalOnEveryRank) {
  // Sums of unrelated floats round differently in different orders; every rank must still hold the same bits.
  Communicator& w = world();
  const int64_t n = 100003;
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = 12345u + 7919u * uint32_t(w.rank());
  for (float& x : v) s = s * 1664525u + 1013904223u, x = float(s >> 8) * 1e-7f - 0.8f;
  w.all_reduce(v.data(), n, Elem::f32, "test all-reduce of random floats");
  std::vector<float> root = v;
  w.broadcast(root.data(), n * 4, 0, "test broadcast of rank 0's sum");
  EXPECT_EQ(std::memcmp(root.data(), v.data(), size_t(n) * 4), 0);
}

TEST(Communicator, BroadcastFromEveryRoot) {
  Communicator& w = world();
  for (int root = 0; root < w.size(); ++root)
    for (int64_t n : kSizes) {
      std::vector<uint8_t> v(size_t(n), uint8_t(w.rank() == root ? 0 : 0xEE));
      if (w.rank() == root)
        for (int64_t i = 0; i < n; ++i) v[size_t(i)] = uint8_t(i * 31 + root);
      w.broadcast(v.data(), n, root, "test broadcast");
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[size_t(i)], uint8_t(i * 31 + root)) << "root " << root << ", n " << n;
    }
}

TEST(Communicator, BarrierWaitsForTheLastRank) {
  Communicator& w = world();
  const auto t0 = std::chrono::steady_clock::now();
  if (w.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  w.barrier("test barrier");
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (w.size() > 1) {
    EXPECT_GE(waited, 0.25) << "rank " << w.rank() << " passed the barrier before rank 0 reached it";
  }
}

TEST(Communicator, CollectivesInFlightTogether) {
  // Started in one order, finished in the other: what the gradient buckets do.
  Communicator& w = world();
  std::vector<float> a(1000, 1.0f), b(3, 2.0f);
  auto pa = w.start_all_reduce(a.data(), 1000, Elem::f32, "test bucket a");
  auto pb = w.start_all_reduce(b.data(), 3, Elem::f32, "test bucket b");
  pb->wait();
  pa->wait();
  EXPECT_EQ(a[999], float(w.size()));
  EXPECT_EQ(b[0], 2.0f * float(w.size()));
}

TEST(Communicator, RankSeedsDiffer) {
  EXPECT_EQ(rank_seed(5, 0), 5u);
  EXPECT_NE(rank_seed(5, 1), rank_seed(5, 0));
  EXPECT_NE(rank_seed(5, 1), rank_seed(6, 0));
}

}  // namespace
}  // namespace mapet::dist
