// A build without the CUDA toolkit (no nvcc, no CUDA headers): the device
// layer (engine/cuda/runtime.h, allocator.h) and the CUDA kernel entry points
// that have kernels in kernels/cuda/*.cu, each throwing an Error that says so.
// Linked as mapet_backend_none (engine/CMakeLists.txt) instead of the GPU or
// simt backends; there is no silent fallback to the CPU.
#include "engine/backend.h"
#include "engine/cuda/allocator.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/conv2d.cuh"
#include "kernels/cuda/copy.cuh"
#include "kernels/cuda/cross_entropy.cuh"
#include "kernels/cuda/dropout.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/gelu.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/interval_attention.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/patch_embed.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/softmax.cuh"

namespace mapet::device {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw Error(std::string(what) + ": this build has no CUDA backend (no CUDA toolkit when it was configured)");
}
thread_local void* g_stream = nullptr;
}  // namespace

const char* linked_backend() { return "none"; }
int device_count() { return 0; }
void select(int, const char* what) { no_cuda(what); }
std::string describe() { return "cuda (not in this build)"; }
void check(int status, const char* op, const char* call) {
  if (status != 0) no_cuda(op);
}
void* current_stream() { return g_stream; }
StreamGuard::StreamGuard(void* s) : prev_(g_stream) { g_stream = s; }
StreamGuard::~StreamGuard() { g_stream = prev_; }
Stream::Stream() { no_cuda("Stream"); }
Stream::~Stream() = default;
void Stream::synchronize() const {}
void Stream::wait_for(void*) const {}
Event::Event() { no_cuda("Event"); }
Event::~Event() = default;
void Event::record(void*) {}
void Event::synchronize() const {}
float Event::elapsed_ms_since(const Event&) const { return 0; }
void stream_wait(void*, const Event&) { no_cuda("stream_wait"); }
void copy_to_device(void*, const void*, size_t, void*, const char* op) { no_cuda(op); }
void copy_to_host(void*, const void*, size_t, void*, const char* op) { no_cuda(op); }
void copy_on_device(void*, const void*, size_t, void*, const char* op) { no_cuda(op); }
void zero(void*, size_t, void*, const char* op) { no_cuda(op); }
void synchronize(const char*) {}
void check_kernel(const char*) {}
void* pinned_alloc(size_t) { no_cuda("pinned_alloc"); }
void pinned_free(void*) {}

void* allocate(size_t, void*, const char* what) { no_cuda(what); }
void deallocate(void*) {}
AllocatorStats allocator_stats() { return {}; }
void release_cache() {}
void reset_peak() {}
size_t size_class(size_t bytes) { return bytes; }
std::string allocator_summary() { return "device memory: none (no CUDA backend in this build)"; }

}  // namespace mapet::device

// ret name(params) { throw }: the parameter types as in the header (a stub
// that drifts from its declaration leaves the declaration undefined: a link error).
#define MAPET_NO_CUDA_KERNEL(ret, name, params) \
  ret name params { ::mapet::backend::no_cuda_kernel(#name); }

namespace mapet::cuda {

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
MAPET_NO_CUDA_KERNEL(void, mean_dim, (const float*, float*, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, mean_dim_backward, (const float*, float*, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, argmax_rows, (const float*, int64_t*, int64_t, int64_t, void*))
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
MAPET_NO_CUDA_KERNEL(void, to_bf16, (const float*, uint16_t*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, copy_strided, (void*, const int64_t*, const void*, const int64_t*, const int64_t*, int, size_t, void*))
MAPET_NO_CUDA_KERNEL(void, embedding_forward,
                     (const float*, const int64_t*, float*, int64_t, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, embedding_backward,
                     (const float*, const int64_t*, float*, int64_t, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, from_bf16, (const uint16_t*, float*, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, patchify, (const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, unpatchify, (const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, void*))
MAPET_NO_CUDA_KERNEL(void, conv2d_nhwc, (const ConvGeometry&, int64_t, int64_t, int64_t, const float*, const float*,
                                         const float*, bool, float*, void*))
MAPET_NO_CUDA_KERNEL(void, avg_pool_nhwc, (int64_t, int64_t, int64_t, int64_t, int64_t, const float*, float*, void*))
MAPET_NO_CUDA_KERNEL(void, add_relu, (float*, const float*, int64_t, void*))

MAPET_NO_CUDA_KERNEL(bool, gemm_uses_bf16, ())
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
// A setting, not a kernel: nothing to set where there is no device.
void set_gemm_uses_bf16(bool) {}

}  // namespace mapet::cuda
