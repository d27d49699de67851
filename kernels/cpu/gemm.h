// Row-major batched GEMM on the CPU:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] + bias   (bias: one value per column)
// op(X) is X or X^T. oneDNN does the work (f32, or bf16 inputs with f32
// accumulation when the precision is bf16); OpenBLAS is the fallback.
#pragma once
#include <cstdint>

#include "kernels/common/gemm.h"

namespace mapet::cpu {

enum class GemmBackend { onednn, openblas };
enum class GemmPrecision { f32, bf16 };

using common::GemmShape;

void gemm(const GemmShape& s, const float* a, const float* b, float* c, float alpha = 1.0f, float beta = 0.0f,
          const float* bias = nullptr);

// Plain 2-D convenience form: C[m,n] = op(A) op(B) (+ beta C) (+ bias), tightly packed.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          float beta = 0.0f, const float* bias = nullptr);

// As gemm(), with A and B already in bf16 (uint16_t bits; lda, ldb and strides as
// for f32). Under --amp the GEMM rounds its inputs to bf16 anyway, so a caller
// that converts an operand once (to_bf16) and passes it to several GEMMs gets
// the same numbers as passing the f32 form each time, without the conversions
// (engine/ops/linear.cpp). Needs the oneDNN backend (see gemm_uses_bf16).
// bf16 precision works on every CPU: with native bf16 dot products (isa.h's
// native_bf16()) oneDNN multiplies the bf16 operands; elsewhere the rounded
// operands go through the f32 GEMM (same products, sums in another order, and
// slower than f32: engine/precision.h decides what --amp uses).
void gemm_bf16(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, float alpha = 1.0f,
               float beta = 0.0f, const float* bias = nullptr);
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, const uint16_t* b,
               float* c, float beta = 0.0f, const float* bias = nullptr);
// True when gemm() rounds its inputs to bf16 and gemm_bf16 is available:
// bf16 precision on the oneDNN backend.
bool gemm_uses_bf16();
// y[i] = x[i] rounded to the nearest bf16 (ties to even), as gemm() rounds its inputs.
void to_bf16(const float* x, uint16_t* y, int64_t n);

// True when the GEMM's results do not depend on the number of threads. OpenBLAS:
// yes (each row block is one single-threaded call). oneDNN: not guaranteed; its
// AVX2 kernels split long inner dimensions by thread count (its AVX-512 ones have
// not been seen to). With a fixed thread count every backend gives the same bits.
bool gemm_thread_count_invariant();

void set_gemm_backend(GemmBackend b);
GemmBackend gemm_backend();
void set_gemm_precision(GemmPrecision p);  // bf16: the `--amp` mode
GemmPrecision gemm_precision();

// Rounds every value to the nearest bf16 (kept in f32). Used by the fallback and tests.
void round_to_bf16(const float* x, float* y, int64_t n);

}  // namespace mapet::cpu
