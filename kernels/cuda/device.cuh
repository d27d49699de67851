// The GPU itself, besides the kernels: how many there are, and device memory
// (for tests and, later, the CUDA allocator). Errors throw std::runtime_error.
#pragma once
#include <cstddef>
#include <string>

namespace mapet::cuda {

int device_count();  // 0 when there is no GPU or no driver (never throws)
std::string device_name(int device);

void* device_alloc(size_t bytes);
void device_free(void* p);  // null is fine
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);  // after the work queued before it

}  // namespace mapet::cuda
