// Strided copy of an n-d array on the GPU (the twin of cpu::copy_strided,
// kernels/cpu/copy.h, same arguments; host arrays for the strides and shape,
// at most kMaxCopyDims dimensions): what Tensor::contiguous() and copies
// between views of device memory run on. Device pointers; the stream last.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mapet::cuda {

constexpr int kMaxCopyDims = 8;

// es: the element size in bytes (1, 2, 4 or 8). Throws std::invalid_argument beyond that or kMaxCopyDims.
void copy_strided(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es, void* stream = nullptr);

}  // namespace mapet::cuda
