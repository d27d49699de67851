// cp.async: data lands at the wait that covers its group, not before.
#include <cmath>
#include <cstring>
#include <vector>

#include "tests/simt/simt_test.h"

namespace {

// Each thread copies 16 bytes (4 floats) and records what the destination
// held right after the issue, after waiting for all but the newest group, and
// after waiting for everything.
__global__ void copy_groups(const float* src, float* before, float* middle, float* after) {
  __shared__ __align__(16) float s[2][64 * 4];
  const int t = threadIdx.x;
  cp_async_16(&s[0][4 * t], src + 4 * t);
  cp_async_commit();
  cp_async_16(&s[1][4 * t], src + 256 + 4 * t);
  cp_async_commit();
  before[t] = s[0][4 * t];
  cp_async_wait<1>();  // group 0 has landed, group 1 may not have
  middle[2 * t] = s[0][4 * t + 1];
  middle[2 * t + 1] = s[1][4 * t + 1];
  cp_async_wait<0>();
  after[t] = s[1][4 * t + 3];
}

TEST(SimtCpAsync, CopiesLandAtTheMatchingWait) {
  std::vector<float> src(512), before(64), middle(128), after(64);
  for (int i = 0; i < 512; ++i) src[i] = float(i);
  MAPET_LAUNCH(copy_groups, 1, 64, 0, nullptr, src.data(), before.data(), middle.data(), after.data());
  for (int t = 0; t < 64; ++t) {
    EXPECT_TRUE(std::isnan(before[t])) << "read before the wait must not see the data";
    EXPECT_EQ(middle[2 * t], src[4 * t + 1]);
    EXPECT_TRUE(std::isnan(middle[2 * t + 1])) << "the newest group is still in flight after wait<1>";
    EXPECT_EQ(after[t], src[256 + 4 * t + 3]);
  }
}

// The classic pipelining bug: reading another thread's copy without
// cp_async_wait_all() before the barrier.
__global__ void stage_tile(const float* src, float* dst, int wait_first) {
  __shared__ __align__(16) float s[128];
  cp_async_4(&s[threadIdx.x], src + threadIdx.x);
  if (wait_first) cp_async_wait_all();
  __syncthreads();
  dst[threadIdx.x] = s[127 - threadIdx.x];
  cp_async_wait_all();
}

TEST(SimtCpAsync, ReadingBeforeTheWaitShowsUp) {
  std::vector<float> src(128), dst(128);
  for (int i = 0; i < 128; ++i) src[i] = float(i) + 0.5f;
  // Thread t reads slot 127 - t, which lands only when thread 127 - t waits: in forward order the first
  // half of the threads read before that happens, in reverse order the second half.
  for (auto order : {mapet::simt::Order::forward, mapet::simt::Order::reverse}) {
    mapet::simt::ScopedThreadOrder o(order);
    MAPET_LAUNCH(stage_tile, 1, 128, 0, nullptr, src.data(), dst.data(), 0);
    for (int i = 0; i < 64; ++i) {
      const int reader = order == mapet::simt::Order::forward ? i : 127 - i;
      EXPECT_TRUE(std::isnan(dst[reader])) << "thread " << reader << " in " << mapet::simt::to_string(order);
    }
  }
  MAPET_LAUNCH(stage_tile, 1, 128, 0, nullptr, src.data(), dst.data(), 1);
  for (int i = 0; i < 128; ++i) EXPECT_EQ(dst[i], src[127 - i]);
}

__global__ void zero_fill(const unsigned char* src, unsigned char* dst, int valid) {
  __shared__ __align__(16) unsigned char s[3][16];
  const int n = valid - 16 * static_cast<int>(threadIdx.x);  // bytes left for this thread's chunk
  const int bytes = n < 0 ? 0 : n > 16 ? 16 : n;
  cp_async_16_zfill(s[threadIdx.x], bytes > 0 ? src + 16 * threadIdx.x : src, bytes);
  cp_async_wait_all();
  for (int i = 0; i < 16; ++i) dst[16 * threadIdx.x + i] = s[threadIdx.x][i];
}

TEST(SimtCpAsync, ZeroFillForBounds) {
  std::vector<unsigned char> src(48), dst(48);
  for (int i = 0; i < 48; ++i) src[i] = static_cast<unsigned char>(i + 1);
  MAPET_LAUNCH(zero_fill, 1, 3, 0, nullptr, src.data(), dst.data(), 20);
  for (int i = 0; i < 48; ++i) EXPECT_EQ(dst[i], i < 20 ? src[i] : 0) << i;
}

__global__ void misaligned_copy(const float* src) {
  __shared__ __align__(16) float s[8];
  cp_async_16(&s[1], src);
  cp_async_wait_all();
}

TEST(SimtCpAsync, MisalignedIsAnError) {
  std::vector<float> src(8);
  expect_kernel_error([&] { MAPET_LAUNCH(misaligned_copy, 1, 1, 0, nullptr, src.data()); },
                      {"kernel 'misaligned_copy'", "thread (0,0,0)", "cp_async_16", "misaligned"});
}

__global__ void never_waits(const int* src, int* dst) {
  MAPET_DYNAMIC_SMEM(int, s);
  cp_async_4(&s[threadIdx.x], src + threadIdx.x);
  cp_async_commit();
  // no wait: the copy still completes when the thread ends
  (void)dst;
}

TEST(SimtCpAsync, PendingCopiesLandAtExit) {
  std::vector<int> src(32, 5), dst(32);
  MAPET_LAUNCH(never_waits, 1, 32, 32 * sizeof(int), nullptr, src.data(), dst.data());
  SUCCEED() << "no error and no leak (ASan builds check the latter)";
}

}  // namespace
