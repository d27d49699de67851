// __syncthreads and its forms, and the bugs around barriers: divergence,
// threads that exit early, deadlock.
#include <vector>

#include "tests/simt/simt_test.h"

namespace {

__global__ void reverse_in_shared(const int* x, int* y) {
  __shared__ int s[512];
  s[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  y[threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}

TEST(SimtBarrier, SyncthreadsOrdersSharedMemory) {
  std::vector<int> x(512), y(512);
  for (int i = 0; i < 512; ++i) x[i] = i * 3 + 1;
  for (auto order : {mapet::simt::Order::forward, mapet::simt::Order::reverse, mapet::simt::Order::random}) {
    mapet::simt::ScopedThreadOrder o(order, 7);
    MAPET_LAUNCH(reverse_in_shared, 1, 512, 0, nullptr, x.data(), y.data());
    for (int i = 0; i < 512; ++i) ASSERT_EQ(y[i], x[511 - i]) << mapet::simt::to_string(order);
  }
}

__global__ void barrier_forms(const int* pred, int* out) {
  const int p = pred[threadIdx.x];
  out[4 * threadIdx.x + 0] = __syncthreads_count(p);
  out[4 * threadIdx.x + 1] = __syncthreads_and(p);
  out[4 * threadIdx.x + 2] = __syncthreads_or(p);
  out[4 * threadIdx.x + 3] = __syncthreads_count(threadIdx.x % 3 == 0);  // a second round right after
}

TEST(SimtBarrier, CountAndOr) {
  const int n = 96;
  for (int variant = 0; variant < 3; ++variant) {
    std::vector<int> pred(n), out(4 * n);
    int count = 0;
    for (int i = 0; i < n; ++i) {
      pred[i] = variant == 0 ? (i % 5 == 1) * (i + 1) : variant == 1 ? 1 : 0;
      count += pred[i] != 0;
    }
    MAPET_LAUNCH(barrier_forms, 1, n, 0, nullptr, pred.data(), out.data());
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(out[4 * i + 0], count);
      EXPECT_EQ(out[4 * i + 1], count == n ? 1 : 0);
      EXPECT_EQ(out[4 * i + 2], count > 0 ? 1 : 0);
      EXPECT_EQ(out[4 * i + 3], 32);
    }
  }
}

__global__ void divergent_barrier(int* out) {
  if (threadIdx.x < 40) {
    out[threadIdx.x] = 1;
    __syncthreads();
  } else {
    out[threadIdx.x] = 2;
    __syncthreads();
  }
}

TEST(SimtBarrier, DivergentSyncthreadsIsAnError) {
  std::vector<int> out(64);
  for (auto order : {mapet::simt::Order::forward, mapet::simt::Order::reverse, mapet::simt::Order::random}) {
    mapet::simt::ScopedThreadOrder o(order);
    expect_kernel_error([&] { MAPET_LAUNCH(divergent_barrier, 2, 64, 0, nullptr, out.data()); },
                        {"kernel 'divergent_barrier'", "block (", "thread (", "divergent __syncthreads",
                         "barrier_test.cpp:"});
  }
}

__global__ void early_exit(const float* x, float* y, int n) {
  __shared__ float s[64];
  const int i = threadIdx.x;
  if (i >= n) return;  // the classic bug: these threads never reach the barrier
  s[i] = x[i];
  __syncthreads();
  y[i] = s[n - 1 - i];
}

TEST(SimtBarrier, ExitWhileOthersWaitIsAnError) {
  std::vector<float> x(64, 1.0f), y(64);
  for (auto order : {mapet::simt::Order::forward, mapet::simt::Order::reverse, mapet::simt::Order::random}) {
    mapet::simt::ScopedThreadOrder o(order);
    expect_kernel_error(
        [&] { MAPET_LAUNCH(early_exit, 1, 64, 0, nullptr, x.data(), y.data(), 50); },
        {"kernel 'early_exit'", "block (0,0,0)", "divergent __syncthreads", "exited", "barrier_test.cpp:"});
  }
  MAPET_LAUNCH(early_exit, 1, 64, 0, nullptr, x.data(), y.data(), 64);  // every thread in range: fine
}

__global__ void exit_after_last_barrier(int* out) {
  __shared__ int s[64];
  s[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncthreads();
  if (threadIdx.x % 2) return;  // fine: no barrier follows
  out[threadIdx.x] = s[63 - threadIdx.x];
}

TEST(SimtBarrier, ExitAfterTheLastBarrierIsFine) {
  std::vector<int> out(64, -1);
  MAPET_LAUNCH(exit_after_last_barrier, 1, 64, 0, nullptr, out.data());
  for (int i = 0; i < 64; i += 2) EXPECT_EQ(out[i], 63 - i);
}

__global__ void barrier_against_warp_sync(int* out) {
  if (threadIdx.x % 32 < 16) {
    __syncthreads();
  } else {
    __syncwarp();  // names lanes 0-15 of this warp, which wait at the barrier
  }
  out[threadIdx.x] = 1;
}

TEST(SimtBarrier, DeadlockNamesWhereEveryoneWaits) {
  std::vector<int> out(64);
  expect_kernel_error([&] { MAPET_LAUNCH(barrier_against_warp_sync, 1, 64, 0, nullptr, out.data()); },
                      {"kernel 'barrier_against_warp_sync'", "block (0,0,0)", "deadlock", "32 thread(s) wait at "
                       "__syncthreads (barrier_test.cpp:", "__syncwarp (barrier_test.cpp:", "never arrive"});
}

__global__ void barrier_in_loop(const int* x, int* y, int rounds) {
  __shared__ int s[2][128];
  int v = x[blockIdx.x * blockDim.x + threadIdx.x];
  for (int r = 0; r < rounds; ++r) {  // neighbour averaging, double-buffered
    s[r % 2][threadIdx.x] = v;
    __syncthreads();
    v = s[r % 2][(threadIdx.x + 1) % blockDim.x] + s[r % 2][(threadIdx.x + blockDim.x - 1) % blockDim.x];
    v %= 1000003;
  }
  y[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

TEST(SimtBarrier, ManyRoundsMatchASerialReference) {
  const int blocks = 3, threads = 128, rounds = 20;
  std::vector<int> x(blocks * threads), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int>(i * 7919 % 1000);
  std::vector<int> want = x;
  for (int b = 0; b < blocks; ++b) {
    std::vector<int> v(want.begin() + b * threads, want.begin() + (b + 1) * threads);
    for (int r = 0; r < rounds; ++r) {
      std::vector<int> nv(threads);
      for (int t = 0; t < threads; ++t) nv[t] = (v[(t + 1) % threads] + v[(t + threads - 1) % threads]) % 1000003;
      v.swap(nv);
    }
    std::copy(v.begin(), v.end(), want.begin() + b * threads);
  }
  auto got = mapet::simt::run_in_every_order([&] {
    MAPET_LAUNCH(barrier_in_loop, blocks, threads, 0, nullptr, x.data(), y.data(), rounds);
    return y;
  });
  EXPECT_EQ(got, want);
}

}  // namespace
