// Strided copy of an n-d array (element size es bytes): the gather behind
// contiguous(), permute and transpose. Rows whose innermost stride is 1 on both
// sides are moved with memcpy; rows are spread over threads.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstddef>
#include <cstdint>

namespace mapet::cpu {

MAPET_ISA_FUNCTION(void, copy_strided, (void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es),
                   (dst, dst_strides, src, src_strides, shape, ndim, es))

}  // namespace mapet::cpu
