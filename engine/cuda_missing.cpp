// The CUDA entry points (kernels/cuda/*.cuh) that have no kernel in this
// build: each throws "<name> has no CUDA kernel in this build" when an op
// reaches it with a tensor on the GPU (engine/backend.h). Here, not in
// kernels/cuda/, because the error is the engine's (kernels never include engine/).
//
// Writing a kernel: add kernels/cuda/X.cu to kernels/CMakeLists.txt and move
// the entry point's line from the second list below into the first.
#include "engine/backend.h"
#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/cross_entropy.cuh"
#include "kernels/cuda/dropout.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/gelu.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/interval_attention.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/softmax.cuh"

// ret name(params) { throw }: the parameter types as in the header (a stub
// that drifts from its declaration leaves the declaration undefined: a link error).
#define MAPET_NO_CUDA_KERNEL(ret, name, params) \
  ret name params { ::mapet::backend::no_cuda_kernel(#name); }

namespace mapet::cuda {

// Entry points with a kernel in kernels/cuda/*.cu: stubs only where the build has no CUDA.
#if !MAPET_HAVE_CUDA
MAPET_NO_CUDA_KERNEL(void, gelu_forward, (const float*, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, gelu_backward, (const float*, const float*, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, bias_gelu_forward, (const float*, const float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, bias_gelu_backward,
                     (const float*, const float*, const float*, float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, adamw_step, (const common::AdamWStep&, float*, const float*, float*, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(int64_t, cross_entropy_forward,
                     (const float*, const int64_t*, float*, float*, int64_t, int64_t, float, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, cross_entropy_backward,
                     (const float*, const int64_t*, const float*, float*, int64_t, int64_t, float, int64_t, float, void*))
MAPET_NO_CUDA_KERNEL(void, layernorm_forward,
                     (const float*, const float*, const float*, float*, float*, float*, int64_t, int64_t, float, void*))
MAPET_NO_CUDA_KERNEL(void, layernorm_backward, (const float*, const float*, const float*, const float*, const float*,
                                                float*, float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, dropout_forward, (const float*, float*, uint8_t*, int64_t, float, uint64_t, uint64_t, void*))
MAPET_NO_CUDA_KERNEL(void, drop_path_forward,
                     (const float*, float*, float*, int64_t, int64_t, float, uint64_t, uint64_t, void*))
MAPET_NO_CUDA_KERNEL(void, drop_path_row_scales, (float*, int64_t, float, uint64_t, uint64_t, void*))
MAPET_NO_CUDA_KERNEL(void, row_scale_apply, (const float*, const float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, scaled_residual_forward,
                     (const float*, const float*, const float*, const float*, float*, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, scaled_residual_backward, (const float*, const float*, const float*, const float*, float*,
                                                      float*, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, sum_rows, (const float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, sum_rows_to_bf16, (const float*, float*, int64_t, int64_t, uint16_t*, void*))
MAPET_NO_CUDA_KERNEL(double, sum_squares, (const std::vector<std::pair<const float*, int64_t>>&, void*))
MAPET_NO_CUDA_KERNEL(void, interval_attention_forward, (const IntervalAttentionShape&, HeadsView, HeadsView, HeadsView,
                                                        OutHeadsView, float*, AttentionPrecision, void*))
MAPET_NO_CUDA_KERNEL(void, interval_attention_backward,
                     (const IntervalAttentionShape&, HeadsView, HeadsView, HeadsView, HeadsView, const float*,
                      HeadsView, OutHeadsView, OutHeadsView, OutHeadsView, AttentionPrecision, void*))
MAPET_NO_CUDA_KERNEL(void, gemm, (const GemmShape&, const float*, const float*, float*, float, float, const float*, void*))
MAPET_NO_CUDA_KERNEL(void, gemm, (bool, bool, int64_t, int64_t, int64_t, const float*, const float*, float*, float,
                                  const float*, void*))
MAPET_NO_CUDA_KERNEL(void, gemm_bf16, (bool, bool, int64_t, int64_t, int64_t, const uint16_t*, const uint16_t*, float*,
                                       float, const float*, void*))
#endif

// Entry points with no CUDA kernel yet.
MAPET_NO_CUDA_KERNEL(void, softmax_forward, (const float*, float*, int64_t, int64_t, float, void*))
MAPET_NO_CUDA_KERNEL(void, softmax_backward, (const float*, const float*, float*, int64_t, int64_t, float, void*))
MAPET_NO_CUDA_KERNEL(void, masked_softmax_inplace,
                     (float*, const uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, add, (const float*, const float*, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, add_inplace, (float*, const float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, add_inplace_runs, (float*, const float*, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, mul, (const float*, const float*, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, scale, (const float*, float, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, add_broadcast, (const float*, const float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, mul_broadcast, (const float*, const float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, mul_broadcast_grad_b, (const float*, const float*, float*, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, dropout_backward, (const uint8_t*, const float*, float*, int64_t, float, void*))
MAPET_NO_CUDA_KERNEL(bool, gemm_uses_bf16, ())
MAPET_NO_CUDA_KERNEL(void, to_bf16, (const float*, uint16_t*, int64_t, void*))

}  // namespace mapet::cuda
