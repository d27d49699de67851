// The caching host allocator (engine/allocator.h): a freed block is handed out
// again for the next request of the same rounded size.
#include "engine/allocator.h"

#include <gtest/gtest.h>

#include "engine/tensor.h"

namespace mapet {
namespace {

TEST(Allocator, FreedBlockIsReused) {
  const size_t bytes = 3 * 1000 * 1000 + 7;  // awkward size, rounded up to a size class
  void* p = host_alloc(bytes);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  AllocatorStats before = host_allocator_stats();
  host_free(p, bytes);
  AllocatorStats freed = host_allocator_stats();
  EXPECT_LT(freed.bytes_in_use, before.bytes_in_use);
  EXPECT_GE(freed.bytes_cached, bytes);
  void* q = host_alloc(bytes - 5);  // same size class
  AllocatorStats after = host_allocator_stats();
  EXPECT_EQ(q, p);
  EXPECT_EQ(after.reused_allocations, freed.reused_allocations + 1);
  EXPECT_EQ(after.fresh_allocations, freed.fresh_allocations);
  host_free(q, bytes - 5);
}

TEST(Allocator, TensorsReuseBuffersAndReleaseCacheEmptiesIt) {
  void* first;
  {
    Tensor t = Tensor::empty({997, 13});
    first = t.raw_data();
  }
  AllocatorStats s0 = host_allocator_stats();
  Tensor u = Tensor::empty({997, 13});
  EXPECT_EQ(u.raw_data(), first);
  EXPECT_EQ(host_allocator_stats().reused_allocations, s0.reused_allocations + 1);
  host_allocator_release_cache();
  EXPECT_EQ(host_allocator_stats().bytes_cached, 0u);
}

}  // namespace
}  // namespace mapet
