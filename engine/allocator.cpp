#include "engine/allocator.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace mapet {
namespace {

// Round small sizes to 64 bytes and large ones to 1/8 of their power of two, so
// that buffers of slightly different sizes (last batch, other shapes) share blocks.
// Sizes beyond half the address space are never satisfiable: refused here, before
// the doubling below could overflow (it looped forever on a request over 2^63 bytes).
size_t round_size(size_t bytes) {
  if (bytes <= 4096) return std::max<size_t>(64, (bytes + 63) & ~size_t(63));
  if (bytes > (SIZE_MAX >> 2)) throw std::bad_alloc();
  size_t p = 1;
  while (p < bytes) p <<= 1;
  size_t step = std::max<size_t>(4096, p / 8);
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

}  // namespace

void* host_alloc(size_t bytes) {
  size_t size = round_size(bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= size;
      c.stats.bytes_in_use += size;
      c.stats.peak_in_use = std::max(c.stats.peak_in_use, c.stats.bytes_in_use);
      ++c.stats.reused_allocations;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, size);
  if (!p) {
    host_allocator_release_cache();
    p = std::aligned_alloc(64, size);
    if (!p) throw std::bad_alloc();
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.bytes_in_use += size;
  c.stats.peak_in_use = std::max(c.stats.peak_in_use, c.stats.bytes_in_use);
  ++c.stats.fresh_allocations;
  return p;
}

void host_free(void* p, size_t bytes) {
  if (!p) return;
  size_t size = round_size(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks[size].push_back(p);
  c.stats.bytes_in_use -= size;
  c.stats.bytes_cached += size;
}

AllocatorStats host_allocator_stats() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().stats;
}

void host_allocator_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.stats.bytes_cached = 0;
}

void host_allocator_reset_peak() {
  std::lock_guard<std::mutex> lock(cache().mu);
  cache().stats.peak_in_use = cache().stats.bytes_in_use;
}

}  // namespace mapet
