// Strided copy of an n-d array on the GPU: the twin of kernels/cpu/copy.h, the
// gather behind a device tensor's contiguous(), permute/transpose, slices,
// concat and broadcast copies (a source stride of 0). dst and src are device
// pointers; shape and the strides (in elements) are host arrays, as on the CPU.
// The stream last (null: the default stream).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mapet::cuda {

// Element size es: 1, 2, 4 or 8 bytes moved as one word, any other size byte by
// byte. After dropping size-1 dims and merging dims contiguous in both layouts,
// at most 8 dims remain (std::invalid_argument otherwise).
void copy_strided(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es, void* stream = nullptr);

}  // namespace mapet::cuda
