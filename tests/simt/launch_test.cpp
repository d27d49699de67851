// Launch: indices, kernel arguments, shared memory, configuration limits.
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "tests/simt/simt_test.h"

namespace {

__global__ void write_indices(uint32_t* out) {
  const uint32_t block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const uint32_t thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const uint32_t threads = blockDim.x * blockDim.y * blockDim.z;
  uint32_t* o = out + 8 * (block * threads + thread);
  o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
  o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
  o[6] = static_cast<uint32_t>(warpSize);
  o[7] = 1;
}

TEST(SimtLaunch, ThreeDimensionalIndices) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  const uint32_t threads = 30, blocks = 12;
  std::vector<uint32_t> out(8 * threads * blocks, 0);
  MAPET_LAUNCH(write_indices, grid, block, 0, nullptr, out.data());
  for (uint32_t bz = 0; bz < 2; ++bz)
    for (uint32_t by = 0; by < 2; ++by)
      for (uint32_t bx = 0; bx < 3; ++bx)
        for (uint32_t tz = 0; tz < 2; ++tz)
          for (uint32_t ty = 0; ty < 3; ++ty)
            for (uint32_t tx = 0; tx < 5; ++tx) {
              const uint32_t b = bx + 3 * (by + 2 * bz), t = tx + 5 * (ty + 3 * tz);
              const uint32_t* o = &out[8 * (b * threads + t)];
              const uint32_t want[8] = {tx, ty, tz, bx, by, bz, 32, 1};
              for (int k = 0; k < 8; ++k) ASSERT_EQ(o[k], want[k]) << "block " << b << " thread " << t << " field " << k;
            }
}

__global__ void own_argument_copy(int n, int* out) {
  n += static_cast<int>(threadIdx.x);  // parameters are per-thread copies, as on a GPU
  __syncthreads();
  out[threadIdx.x] = n;
}

TEST(SimtLaunch, ArgumentsAreCopiedPerThread) {
  std::vector<int> out(64);
  MAPET_LAUNCH(own_argument_copy, 1, 64, 0, nullptr, 100, out.data());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], 100 + i);
}

template <class T, int Scale>
__global__ void scale(const T* x, T* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] * T(Scale);
}

TEST(SimtLaunch, TemplateKernelInParentheses) {
  std::vector<float> x(100), y(100);
  for (int i = 0; i < 100; ++i) x[i] = float(i);
  MAPET_LAUNCH((scale<float, 3>), 4, 32, 0, nullptr, x.data(), y.data(), 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(y[i], 3.0f * i);
}

// Static __shared__ is one instance per running block: blocks running at the
// same time on different workers must not see each other's.
__global__ void static_shared_per_block(int* bad) {
  __shared__ uint32_t tile[128];
  tile[threadIdx.x] = blockIdx.x * 1000 + threadIdx.x;
  __syncthreads();
  for (int r = 0; r < 4; ++r) {
    const uint32_t j = (threadIdx.x + 17 * (r + 1)) % 128;
    if (tile[j] != blockIdx.x * 1000 + j) atomicAdd(bad, 1);
    __syncthreads();
  }
}

TEST(SimtLaunch, StaticSharedMemoryIsPerBlock) {
  const int saved = mapet::simt::worker_count();
  mapet::simt::set_worker_count(4);  // more OS threads than cores: blocks interleave
  int bad = 0;
  MAPET_LAUNCH(static_shared_per_block, 400, 128, 0, nullptr, &bad);
  mapet::simt::set_worker_count(saved);
  EXPECT_EQ(bad, 0);
}

__global__ void dynamic_shared(const float* x, float* y, uint32_t* first_bits) {
  MAPET_DYNAMIC_SMEM(float, s);
  if (threadIdx.x == 0) first_bits[blockIdx.x] = __float_as_uint(s[blockDim.x - 1]);  // before anyone wrote it
  __syncthreads();
  s[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
  __syncthreads();
  y[blockIdx.x * blockDim.x + threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}

TEST(SimtLaunch, DynamicSharedMemoryStartsPoisoned) {
  const int n = 3 * 64;
  std::vector<float> x(n), y(n);
  std::vector<uint32_t> first(3);
  for (int i = 0; i < n; ++i) x[i] = float(i);
  MAPET_LAUNCH(dynamic_shared, 3, 64, 64 * sizeof(float), nullptr, x.data(), y.data(), first.data());
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(first[b], 0xffffffffu) << "uninitialised shared memory reads as NaN";
    for (int t = 0; t < 64; ++t) EXPECT_EQ(y[b * 64 + t], x[b * 64 + 63 - t]);
  }
}

__global__ void big_shared(int* out) {
  MAPET_DYNAMIC_SMEM(unsigned char, s);
  s[threadIdx.x * 1000] = 7;
  __syncthreads();
  out[threadIdx.x] = s[(31 - threadIdx.x) * 1000];
}

TEST(SimtLaunch, DynamicSharedMemoryOver48KiBNeedsOptIn) {
  std::vector<int> out(32);
  const size_t bytes = 100 * 1024;
  expect_kernel_error([&] { MAPET_LAUNCH(big_shared, 1, 32, bytes, nullptr, out.data()); },
                      {"kernel 'big_shared'", "102400 bytes", "MAPET_SET_MAX_DYNAMIC_SMEM"});
  MAPET_SET_MAX_DYNAMIC_SMEM(big_shared, bytes);
  MAPET_LAUNCH(big_shared, 1, 32, bytes, nullptr, out.data());
  for (int v : out) EXPECT_EQ(v, 7);
}

__global__ void noop() {}

TEST(SimtLaunch, SharedMemoryOverTheSm90Limit) {
  expect_kernel_error([] { MAPET_LAUNCH(noop, 1, 32, 228 * 1024, nullptr); },
                      {"kernel 'noop'", "233472 bytes", "227 KiB"});
  expect_kernel_error([] { MAPET_SET_MAX_DYNAMIC_SMEM(noop, 228 * 1024); }, {"kernel 'noop'", "233472"});
}

TEST(SimtLaunch, ConfigurationLimits) {
  expect_kernel_error([] { MAPET_LAUNCH(noop, 1, 1025, 0, nullptr); }, {"kernel 'noop'", "1025 threads", "1024"});
  expect_kernel_error([] { MAPET_LAUNCH(noop, 1, dim3(32, 32, 2), 0, nullptr); }, {"2048 threads"});
  expect_kernel_error([] { MAPET_LAUNCH(noop, 1, dim3(1, 1, 65), 0, nullptr); }, {"z <= 64"});
  expect_kernel_error([] { MAPET_LAUNCH(noop, 0, 32, 0, nullptr); }, {"gridDim (0,1,1)", "zero"});
  expect_kernel_error([] { MAPET_LAUNCH(noop, dim3(1, 65536, 1), 32, 0, nullptr); }, {"out of range"});
  expect_kernel_error([] { MAPET_LAUNCH(noop, 1, dim3(0, 1, 1), 0, nullptr); }, {"blockDim (0,1,1)"});
  MAPET_LAUNCH(noop, dim3(2, 2, 2), 1024, 0, nullptr);  // the largest block is fine
}

__global__ void traps(int bad_thread) {
  if (static_cast<int>(threadIdx.x) == bad_thread) __trap();
}

TEST(SimtLaunch, TrapNamesKernelBlockAndThread) {
  expect_kernel_error([] { MAPET_LAUNCH(traps, 2, 64, 0, nullptr, 37); },
                      {"kernel 'traps'", "block (0,0,0)", "thread (37,0,0)", "warp 1 lane 5", "__trap()"});
}

__global__ void launches_inside() { MAPET_LAUNCH(noop, 1, 1, 0, nullptr); }

TEST(SimtLaunch, NoLaunchFromInsideAKernel) {
  expect_kernel_error([] { MAPET_LAUNCH(launches_inside, 1, 1, 0, nullptr); }, {"dynamic parallelism"});
  MAPET_LAUNCH(noop, 1, 1, 0, nullptr);  // and the runtime still works
}

__global__ void sum_blocks(unsigned long long* total) { atomicAdd(total, 1ull); }

TEST(SimtLaunch, ManyBlocksAllRun) {
  unsigned long long total = 0;
  MAPET_LAUNCH(sum_blocks, dim3(50, 4, 3), dim3(16, 2), 0, nullptr, &total);
  EXPECT_EQ(total, 50ull * 4 * 3 * 32);
}

// Launches from several host threads at once (streams served by host threads,
// or an OpenMP parallel region) share the pool without waiting on each other.
TEST(SimtLaunch, ConcurrentLaunchesFromHostThreads) {
  constexpr int kHosts = 4;
  std::vector<unsigned long long> totals(kHosts, 0);
  std::vector<std::thread> hosts;
  for (int h = 0; h < kHosts; ++h) {
    hosts.emplace_back([&totals, h] {
      for (int rep = 0; rep < 5; ++rep) MAPET_LAUNCH(sum_blocks, 64, 64, 0, nullptr, &totals[h]);
    });
  }
  for (std::thread& t : hosts) t.join();
  for (unsigned long long t : totals) EXPECT_EQ(t, 5ull * 64 * 64);
#if defined(_OPENMP)
  unsigned long long inside = 0;
#pragma omp parallel num_threads(2)
  MAPET_LAUNCH(sum_blocks, 16, 32, 0, nullptr, &inside);
  EXPECT_GT(inside, 0ull);
#endif
}

}  // namespace
