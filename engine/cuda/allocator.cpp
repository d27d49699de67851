#include "engine/cuda/allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/tensor.h"

namespace mapet::device {
namespace {

struct Cache {
  std::mutex mu;
  std::map<std::pair<void*, size_t>, std::vector<void*>> free_blocks;  // (stream, size class) -> blocks
  struct Live {
    size_t size;
    void* stream;
  };
  std::unordered_map<void*, Live> live;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

std::string gib(size_t bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f GiB", double(bytes) / double(1ull << 30));
  return s;
}

// Gives every cached block back (the caller holds c.mu).
void release_locked(Cache& c) {
  if (c.free_blocks.empty()) return;
  cudaDeviceSynchronize();  // blocks of other streams may still be read by queued kernels
  for (auto& [key, blocks] : c.free_blocks)
    for (void* p : blocks) cudaFree(p);
  c.free_blocks.clear();
  c.stats.bytes_cached = 0;
}

}  // namespace

size_t size_class(size_t bytes) {
  if (bytes <= (size_t(1) << 20)) return std::max<size_t>(512, (bytes + 511) / 512 * 512);
  if (bytes > (SIZE_MAX >> 2)) return SIZE_MAX;  // unsatisfiable: cudaMalloc refuses it below
  size_t p = 1;
  while (p < bytes) p <<= 1;
  const size_t step = p / 8;
  return (bytes + step - 1) / step * step;
}

void* allocate(size_t bytes, void* stream, const char* what) {
  const size_t size = size_class(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto hit = c.free_blocks.find({stream, size});
  void* p = nullptr;
  if (hit != c.free_blocks.end() && !hit->second.empty()) {
    p = hit->second.back();
    hit->second.pop_back();
    c.stats.bytes_cached -= size;
    ++c.stats.reused_allocations;
  } else {
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_locked(c);
      e = cudaMalloc(&p, size);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      cudaGetLastError();
      throw Error("out of device memory: cannot allocate " + std::to_string(bytes) + " bytes (a block of " +
                  gib(size) + ")" + (what ? std::string(" for ") + what : std::string()) + ": " + cudaGetErrorName(e) +
                  "; device allocator: " + gib(c.stats.bytes_in_use) + " in use (peak " + gib(c.stats.peak_in_use) +
                  "), " + gib(c.stats.bytes_cached) + " cached; device: " + gib(free) + " free of " + gib(total));
    }
    ++c.stats.fresh_allocations;
  }
  c.live[p] = {size, stream};
  c.stats.bytes_in_use += size;
  c.stats.peak_in_use = std::max(c.stats.peak_in_use, c.stats.bytes_in_use);
  return p;
}

void deallocate(void* p) {
  if (!p) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(p);
  if (it == c.live.end()) throw Error("device::deallocate: a pointer the device allocator did not hand out");
  const Cache::Live b = it->second;
  c.live.erase(it);
  c.free_blocks[{b.stream, b.size}].push_back(p);
  c.stats.bytes_in_use -= b.size;
  c.stats.bytes_cached += b.size;
}

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().stats;
}

void release_cache() {
  std::lock_guard<std::mutex> lock(cache().mu);
  release_locked(cache());
}

void reset_peak() {
  std::lock_guard<std::mutex> lock(cache().mu);
  cache().stats.peak_in_use = cache().stats.bytes_in_use;
}

std::string allocator_summary() {
  const AllocatorStats s = allocator_stats();
  const size_t n = s.fresh_allocations + s.reused_allocations;
  char line[200];
  std::snprintf(line, sizeof line, "device memory: peak %s in use, %s in use now, %s cached; %zu allocations, %.0f%% from the cache",
                gib(s.peak_in_use).c_str(), gib(s.bytes_in_use).c_str(), gib(s.bytes_cached).c_str(), n,
                n ? 100.0 * double(s.reused_allocations) / double(n) : 0.0);
  return line;
}

}  // namespace mapet::device
