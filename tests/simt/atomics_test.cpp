// Atomics across blocks that run in parallel.
#include <vector>

#include "tests/simt/simt_test.h"

namespace {

__global__ void histogram(const int* x, int n, int* bins, unsigned* ubins, unsigned long long* total, float* fsum) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&bins[x[i] % 16], 1);
  atomicAdd(&ubins[x[i] % 8], 2u);
  atomicAdd(total, static_cast<unsigned long long>(x[i]));
  atomicAdd(fsum, 0.5f);  // sums of halves are exact in f32 here, in any order
}

TEST(SimtAtomics, AddAcrossBlocks) {
  const int saved = mapet::simt::worker_count();
  mapet::simt::set_worker_count(3);
  const int n = 20000;
  std::vector<int> x(n), bins(16, 0), want(16, 0);
  std::vector<unsigned> ubins(8, 0), uwant(8, 0);
  unsigned long long total = 0, want_total = 0;
  float fsum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = (i * 7919) % 1013;
    ++want[x[i] % 16];
    uwant[x[i] % 8] += 2;
    want_total += static_cast<unsigned long long>(x[i]);
  }
  MAPET_LAUNCH(histogram, (n + 127) / 128, 128, 0, nullptr, x.data(), n, bins.data(), ubins.data(), &total, &fsum);
  mapet::simt::set_worker_count(saved);
  EXPECT_EQ(bins, want);
  EXPECT_EQ(ubins, uwant);
  EXPECT_EQ(total, want_total);
  EXPECT_EQ(fsum, 0.5f * n);
}

__global__ void min_max_exch(const int* x, int* mn, int* mx, unsigned* umx, unsigned long long* ull_min,
                             int* last) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  atomicMin(mn, x[i]);
  atomicMax(mx, x[i]);
  atomicMax(umx, static_cast<unsigned>(x[i]) * 3u);
  atomicMin(ull_min, static_cast<unsigned long long>(x[i] + 1000));
  atomicExch(last, 1);
}

TEST(SimtAtomics, MinMaxExch) {
  std::vector<int> x(4096);
  for (int i = 0; i < 4096; ++i) x[i] = (i * 2654435761u) % 100000 - 50000;
  int mn = 1 << 30, mx = -(1 << 30), last = 0;
  unsigned umx = 0;
  unsigned long long ull_min = ~0ull;
  MAPET_LAUNCH(min_max_exch, 16, 256, 0, nullptr, x.data(), &mn, &mx, &umx, &ull_min, &last);
  int want_mn = x[0], want_mx = x[0];
  unsigned want_umx = 0;
  unsigned long long want_ull = ~0ull;
  for (int v : x) {
    want_mn = std::min(want_mn, v);
    want_mx = std::max(want_mx, v);
    want_umx = std::max(want_umx, static_cast<unsigned>(v) * 3u);
    want_ull = std::min(want_ull, static_cast<unsigned long long>(v + 1000));
  }
  EXPECT_EQ(mn, want_mn);
  EXPECT_EQ(mx, want_mx);
  EXPECT_EQ(umx, want_umx);
  EXPECT_EQ(ull_min, want_ull);
  EXPECT_EQ(last, 1);
}

// A counter built from atomicCAS, and atomicInc's wrap-around.
__global__ void cas_counter(unsigned* counter, unsigned* ring) {
  unsigned old = atomicOr(counter, 0u), seen;  // an atomic read
  do {
    seen = old;
    old = atomicCAS(counter, seen, seen + 1);
  } while (old != seen);
  atomicInc(ring, 9u);  // counts 0..9, then back to 0
}

TEST(SimtAtomics, CasAndInc) {
  unsigned counter = 0, ring = 0;
  MAPET_LAUNCH(cas_counter, 40, 64, 0, nullptr, &counter, &ring);
  EXPECT_EQ(counter, 40u * 64);
  EXPECT_EQ(ring, (40u * 64) % 10);
}

}  // namespace
