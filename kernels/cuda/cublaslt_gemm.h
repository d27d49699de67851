// GEMM through cuBLASLt (a real GPU only; prepared, not yet run: no GPU here).
// The same contract as kernels/cuda/gemm.cuh's own GEMM, so the engine can
// pick either (issue #13: cuBLASLt on a GPU, MAPET_GEMM=own for the own one):
//   C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] + bias   (row-major, GemmShape)
// Inputs f32 (full f32 or TF32 products) or bf16 bits; C f32; sums f32. The
// bias epilogue is cuBLASLt's; GELU is not fused here, because cuBLASLt's GELU
// epilogue is the tanh approximation and the project's is exact (erf).
// The workspace is the caller's (the engine's allocator); heuristic results
// are cached per shape. Throws std::runtime_error naming the cuBLASLt call.
#pragma once
#include <cstddef>

#include "kernels/common/gemm.h"

namespace mapet::cuda {

enum class LtInput { f32, tf32, bf16 };

void gemm_cublaslt(const common::GemmShape& s, const void* a, const void* b, LtInput input, float* c, float alpha,
                   float beta, const float* bias, void* workspace, size_t workspace_bytes, void* stream);

}  // namespace mapet::cuda
