// The CUDA entry points (kernels/cuda/*.cuh) that have no kernel yet, in any
// build: each throws "<name> has no CUDA kernel in this build" when an op
// reaches it with a tensor on the GPU (engine/backend.h). Here, not in
// kernels/cuda/, because the error is the engine's (kernels never include engine/).
//
// Writing a kernel: add kernels/cuda/X.cu (kernels/CMakeLists.txt picks it up)
// and move the entry point's line from here to engine/cuda/no_cuda.cpp (the
// stubs of a build without the CUDA toolkit).
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

}  // namespace mapet::cuda
