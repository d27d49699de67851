// cuBLASLt computes column-major products. A row-major matrix is the
// column-major matrix of its transpose with the same leading dimension, so the
// row-major C = op(A) op(B) is computed as the column-major
// C^T = op(B)^T op(A)^T: B goes in cuBLASLt's A slot and A in its B slot, and
// C^T (n x m, ld = ldc) is what C's memory holds. The bias (one value per
// column of C) is then one value per row of C^T: cuBLASLt's BIAS epilogue.
#include "kernels/cuda/cublaslt_gemm.h"

#include <cublasLt.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

namespace mapet::cuda {

namespace {

void check(cublasStatus_t st, const char* call) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLASLt: ") + call + " failed: " + cublasLtGetStatusString(st));
}

cublasLtHandle_t handle() {
  static cublasLtHandle_t h = [] {
    cublasLtHandle_t x = nullptr;
    check(cublasLtCreate(&x), "cublasLtCreate");
    return x;
  }();
  return h;
}

// Descriptors of one call, destroyed at its end.
struct Descs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  ~Descs() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

cublasLtMatrixLayout_t layout(cudaDataType type, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                              int64_t stride) {
  cublasLtMatrixLayout_t l = nullptr;
  check(cublasLtMatrixLayoutCreate(&l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld),
        "cublasLtMatrixLayoutCreate");
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count),
          "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)");
    check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
          "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
  }
  return l;
}

using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int, bool, bool, size_t>;

struct AlgoCache {
  std::mutex mu;
  std::map<Key, cublasLtMatmulAlgo_t> algos;
};
AlgoCache& algo_cache() {
  static AlgoCache* c = new AlgoCache();
  return *c;
}

}  // namespace

void gemm_cublaslt(const common::GemmShape& s, const void* a, const void* b, LtInput input, float* c, float alpha,
                   float beta, const float* bias, void* workspace, size_t workspace_bytes, void* stream) {
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;
  const cudaDataType in_type = input == LtInput::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute = input == LtInput::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  Descs d;
  check(cublasLtMatmulDescCreate(&d.op, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // cuBLASLt's A is our B (n x k after its op), its B is our A (k x m after its op); see the top of the file.
  const cublasOperation_t ta = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, tb = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "SetAttribute(TRANSA)");
  check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "SetAttribute(TRANSB)");
  if (bias) {
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), "SetAttribute(EPILOGUE)");
    check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
          "SetAttribute(BIAS_POINTER)");
    const cudaDataType bias_type = CUDA_R_32F;
    check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
          "SetAttribute(BIAS_DATA_TYPE)");
  }
  // Column-major shapes as stored: our B is (trans_b ? n x k : k x n) row-major = (trans_b ? k x n : n x k) column-major.
  d.a = s.trans_b ? layout(in_type, s.k, s.n, s.ldb, s.batch, s.stride_b) : layout(in_type, s.n, s.k, s.ldb, s.batch, s.stride_b);
  d.b = s.trans_a ? layout(in_type, s.m, s.k, s.lda, s.batch, s.stride_a) : layout(in_type, s.k, s.m, s.lda, s.batch, s.stride_a);
  d.c = layout(CUDA_R_32F, s.n, s.m, s.ldc, s.batch, s.stride_c);

  const Key key{s.trans_a, s.trans_b, s.m,  s.n,          s.k,         s.lda,   s.ldb, s.ldc,
                s.batch,   s.stride_a, s.stride_b, s.stride_c, static_cast<int>(input), bias != nullptr, beta != 0.0f,
                workspace_bytes};
  cublasLtMatmulAlgo_t algo{};
  {
    std::lock_guard<std::mutex> lock(algo_cache().mu);
    auto it = algo_cache().algos.find(key);
    if (it != algo_cache().algos.end()) {
      algo = it->second;
    } else {
      cublasLtMatmulPreference_t pref = nullptr;
      check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
      cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                           sizeof workspace_bytes);
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      const cublasStatus_t st =
          cublasLtMatmulAlgoGetHeuristic(handle(), d.op, d.a, d.b, d.c, d.c, pref, 1, &result, &found);
      cublasLtMatmulPreferenceDestroy(pref);
      check(st, "cublasLtMatmulAlgoGetHeuristic");
      if (found == 0) throw std::runtime_error("cuBLASLt: no algorithm for this GEMM shape");
      algo = result.algo;
      algo_cache().algos.emplace(key, algo);
    }
  }
  check(cublasLtMatmul(handle(), d.op, &alpha, b, d.a, a, d.b, &beta, c, d.c, c, d.c, &algo, workspace,
                       workspace_bytes, static_cast<cudaStream_t>(stream)),
        "cublasLtMatmul");
}

}  // namespace mapet::cuda
