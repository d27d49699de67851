// Caching device allocator: the memory of every Device::cuda Storage.
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, so
// freed blocks are kept in free lists per (stream, size class) and handed out
// again. Stream-ordered reuse: a block freed on stream S is reused at once by
// an allocation on S (the kernels queued on S before the free run first);
// blocks of other streams are only given back by release_cache, after the
// device has finished everything. Size classes as the host allocator's: 512
// bytes up to 1 MiB, then 1/8 of the power of two above.
#pragma once
#include <cstddef>
#include <string>

#include "engine/allocator.h"

namespace mapet::device {

// On `stream` (blocks are reused in its order). `what`, when given, names the
// allocation in an out-of-memory Error, which also gives the allocator's
// figures and the device's free/total memory (Tensor::empty adds the tensor).
void* allocate(size_t bytes, void* stream, const char* what = nullptr);
void deallocate(void* p);
AllocatorStats allocator_stats();
// Waits for the device, then cudaFree's every cached block (--empty-cache).
void release_cache();
void reset_peak();
size_t size_class(size_t bytes);
// "device memory: peak 1.2 GiB in use, 0.3 GiB cached; 812 allocations, 97% from the cache".
std::string allocator_summary();

}  // namespace mapet::device
