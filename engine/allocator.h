// Caching host allocator. Freed blocks go to a free list keyed by their rounded
// size and are handed out again, because touching fresh pages costs about 2 us
// per 4 KiB here: a training step that re-mmaps its activations every step
// spends a quarter of its time in page faults.
#pragma once
#include <cstddef>

namespace mapet {

struct AllocatorStats {
  size_t bytes_in_use = 0;   // handed out and not yet freed
  size_t bytes_cached = 0;   // held in free lists
  size_t peak_in_use = 0;
  size_t fresh_allocations = 0;  // requests the cache could not serve
  size_t reused_allocations = 0;
};

void* host_alloc(size_t bytes);     // 64-byte aligned, never null (throws on failure)
void host_free(void* p, size_t bytes);
AllocatorStats host_allocator_stats();
void host_allocator_release_cache();  // gives cached blocks back to the OS
void host_allocator_reset_peak();

}  // namespace mapet
