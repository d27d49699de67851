// bfloat16 casts on the GPU: the twins of cpu::to_bf16 and cpu::round_to_bf16
// (kernels/cpu/gemm.h), and the widening back. Round to nearest even as
// common::float_to_bf16 (kernels/common/bf16.h), NaNs included, so the bits
// equal the CPU's. Device pointers; the stream last (null: the default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

void to_bf16(const float* x, uint16_t* y, int64_t n, void* stream = nullptr);
void round_to_bf16(const float* x, float* y, int64_t n, void* stream = nullptr);  // y = float(bf16(x))
void from_bf16(const uint16_t* x, float* y, int64_t n, void* stream = nullptr);   // exact

}  // namespace mapet::cuda
