// GEMM on the GPU (cuBLASLt): the twins of kernels/cpu/gemm.h (device
// pointers; the stream last, null: the default stream).
#pragma once
#include <cstdint>

#include "kernels/common/gemm.h"

namespace mapet::cuda {

using common::GemmShape;

void gemm(const GemmShape& s, const float* a, const float* b, float* c, float alpha = 1.0f, float beta = 0.0f,
          const float* bias = nullptr, void* stream = nullptr);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          float beta = 0.0f, const float* bias = nullptr, void* stream = nullptr);
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, const uint16_t* b,
               float* c, float beta = 0.0f, const float* bias = nullptr, void* stream = nullptr);
// True when gemm() takes bf16 inputs (the --amp precision) and gemm_bf16 is there.
bool gemm_uses_bf16();
void to_bf16(const float* x, uint16_t* y, int64_t n, void* stream = nullptr);

}  // namespace mapet::cuda
