// The shape of a row-major batched GEMM, taken by both backends
// (kernels/cpu/gemm.h, kernels/cuda/gemm.cuh):
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] + bias   (bias: one value per column)
// op(X) is X or X^T.
#pragma once
#include <cstdint>

namespace mapet::common {

struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch items
};

}  // namespace mapet::common
