// Thread orders: a missing barrier shows up as results that depend on the
// order, and run_in_every_order turns that into an error.
#include <vector>

#include "tests/simt/simt_test.h"

namespace {

// Prefix sums in shared memory (Hillis-Steele). With `barriers` off, a
// thread may read a neighbour's slot before or after the neighbour updated it.
__global__ void scan(const unsigned* x, unsigned* y, int barriers) {
  __shared__ unsigned s[2][256];  // unsigned: the racy runs add garbage, which must not overflow into UB
  const int t = threadIdx.x;
  int cur = 0;
  s[cur][t] = x[t];
  if (barriers) __syncthreads();
  for (int offset = 1; offset < 256; offset *= 2) {
    s[1 - cur][t] = s[cur][t] + (t >= offset ? s[cur][t - offset] : 0);
    cur = 1 - cur;
    if (barriers) __syncthreads();
  }
  y[t] = s[cur][t];
}

std::vector<unsigned> run_scan(int barriers) {
  std::vector<unsigned> x(256), y(256);
  for (int i = 0; i < 256; ++i) x[i] = i % 7 + 1;
  MAPET_LAUNCH(scan, 1, 256, 0, nullptr, x.data(), y.data(), barriers);
  return y;
}

TEST(SimtOrder, CorrectKernelGivesTheSameBitsInEveryOrder) {
  const std::vector<unsigned> y = mapet::simt::run_in_every_order([] { return run_scan(1); });
  unsigned sum = 0;
  for (int i = 0; i < 256; ++i) {
    sum += i % 7 + 1;
    ASSERT_EQ(y[i], sum);
  }
}

TEST(SimtOrder, MissingSyncthreadsIsCaught) {
  const std::string msg = expect_kernel_error(
      [] { mapet::simt::run_in_every_order([] { return run_scan(0); }); },
      {"results differ between forward and", "thread order", "first at element", "missing __syncthreads"});
}

// A race inside one warp: lanes read a neighbour's shared slot that it writes
// in the same step, without __syncwarp.
__global__ void warp_race(unsigned* y, int sync) {
  __shared__ unsigned s[32];
  const unsigned lane = threadIdx.x;
  s[lane] = lane + 1;
  if (sync) __syncwarp();
  const unsigned v = s[(lane + 1) % 32];
  if (sync) __syncwarp();
  s[lane] = v * 2 + 1;
  if (sync) __syncwarp();
  y[lane] = s[(lane + 31) % 32];
}

TEST(SimtOrder, MissingSyncwarpIsCaught) {
  auto run = [](int sync) {
    std::vector<unsigned> y(32);
    MAPET_LAUNCH(warp_race, 1, 32, 0, nullptr, y.data(), sync);
    return y;
  };
  const std::vector<unsigned> ok = mapet::simt::run_in_every_order([&] { return run(1); });
  for (unsigned l = 0; l < 32; ++l) EXPECT_EQ(ok[l], 2 * (l + 1) + 1);  // lane l - 1 wrote 2 * s[l] + 1
  expect_kernel_error([&] { mapet::simt::run_in_every_order([&] { return run(0); }); },
                      {"results differ", "missing __syncthreads or __syncwarp"});
}

__global__ void record_order(unsigned* clock, unsigned* when) {
  when[threadIdx.x] = atomicAdd(clock, 1u);
}

TEST(SimtOrder, OrdersAreWhatTheySay) {
  auto run = [](mapet::simt::Order order, uint64_t seed) {
    mapet::simt::ScopedThreadOrder o(order, seed);
    unsigned clock = 0;
    std::vector<unsigned> when(64);
    MAPET_LAUNCH(record_order, 1, 64, 0, nullptr, &clock, when.data());
    return when;
  };
  const auto fwd = run(mapet::simt::Order::forward, 0), rev = run(mapet::simt::Order::reverse, 0);
  for (unsigned t = 0; t < 64; ++t) {
    EXPECT_EQ(fwd[t], t);
    EXPECT_EQ(rev[t], 63 - t);
  }
  EXPECT_EQ(run(mapet::simt::Order::random, 5), run(mapet::simt::Order::random, 5)) << "a seed repeats its order";
  EXPECT_NE(run(mapet::simt::Order::random, 5), run(mapet::simt::Order::random, 6));
  EXPECT_NE(run(mapet::simt::Order::random, 5), fwd);
}

TEST(SimtOrder, EnvironmentSyntax) {
  using mapet::simt::Order;
  EXPECT_EQ(mapet::simt::detail::parse_order(nullptr).order, Order::forward);
  EXPECT_EQ(mapet::simt::detail::parse_order("reverse").order, Order::reverse);
  const auto r = mapet::simt::detail::parse_order("random:42");
  EXPECT_EQ(r.order, Order::random);
  EXPECT_EQ(r.seed, 42u);
  EXPECT_THROW(mapet::simt::detail::parse_order("backwards"), std::invalid_argument);
}

}  // namespace
