// Strided copy of an n-d array (element size es bytes): the gather behind
// contiguous(), permute and transpose. Rows whose innermost stride is 1 on both
// sides are moved with memcpy; rows are spread over threads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mapet::cpu {

void copy_strided(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es);

}  // namespace mapet::cpu
