// A tensor-core GEMM in the dialect (tests/simt/tile_gemm.cu): the second
// sample, using every tensor-core wrapper (cp.async, ldmatrix, mma.sync).
#pragma once
#include <cuda_bf16.h>

namespace mapet::simt_sample {

// C (M x N, f32) = A (M x K) * B (K x N), all row-major; bf16 in, f32 out.
// M % 16 == 0, N % 8 == 0, K % 16 == 0. Pointers are device pointers.
void tile_gemm(const __nv_bfloat16* A, const __nv_bfloat16* B, float* C, int M, int N, int K, void* stream = nullptr);

}  // namespace mapet::simt_sample
