// The project's own GEMM kernels (kernels/cuda/gemm.cu): what runs where
// cuBLASLt does not (under kernels/simt: tests and the cuda-sim device), and a
// measured alternative to it on a GPU.
//   C[b] = act(alpha * op(A[b]) op(B[b]) + beta * C[b] + bias)
// Shapes as kernels/cpu/gemm.h: row-major, op(X) = X or X^T, leading
// dimensions, batch strides (stride_b = 0: one B for every batch item). bias:
// one value per column; act: none or GELU (kernels/common/math.h, after the
// bias). beta = 0 never reads C. Device pointers; the stream last (null: the
// default stream). A failed launch throws std::runtime_error.
#pragma once
#include <cstdint>

#include "kernels/common/gemm.h"
#include "kernels/cuda/bf16.cuh"

namespace mapet::cuda {

using common::GemmShape;

struct GemmEpilogue {
  float alpha = 1.0f, beta = 0.0f;
  const float* bias = nullptr;  // [n], or null
  bool gelu = false;            // C = gelu(alpha AB + beta C + bias)
};

// f32 products and sums on the CUDA cores.
void gemm_fma(const GemmShape& s, const float* a, const float* b, float* c, const GemmEpilogue& e = {},
              void* stream = nullptr);
// Tensor cores: bf16 products, f32 sums (mma.sync m16n8k16). f32 operands are
// rounded to bf16 (to nearest even) as they are staged into shared memory,
// which gives the numbers of cpu::gemm at bf16 precision; uint16_t operands
// are bf16 bits already, as for cpu::gemm_bf16.
void gemm_tc(const GemmShape& s, const float* a, const float* b, float* c, const GemmEpilogue& e = {},
             void* stream = nullptr);
void gemm_tc(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, const GemmEpilogue& e = {},
             void* stream = nullptr);

// The twins of cpu::gemm (at f32 precision) and cpu::gemm_bf16, same arguments.
void gemm(const GemmShape& s, const float* a, const float* b, float* c, float alpha = 1.0f, float beta = 0.0f,
          const float* bias = nullptr, void* stream = nullptr);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          float beta = 0.0f, const float* bias = nullptr, void* stream = nullptr);
void gemm_bf16(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, float alpha = 1.0f,
               float beta = 0.0f, const float* bias = nullptr, void* stream = nullptr);
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, const uint16_t* b,
               float* c, float beta = 0.0f, const float* bias = nullptr, void* stream = nullptr);

// The --amp precision on the device: the engine's policy (engine/precision.cpp).
// The bf16 cast that goes with it, to_bf16, is kernels/cuda/bf16.cuh's.
bool gemm_uses_bf16();

}  // namespace mapet::cuda
