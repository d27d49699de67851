// The CUDA dialect: include this first in every kernel source. The same .cu
// file then compiles two ways:
//   nvcc (__CUDACC__)  -> real CUDA: <<<>>>, inline PTX for mma/ldmatrix/cp.async;
//   g++ (-x c++)       -> kernels/simt: the kernel runs on the CPU, checked.
//
// What a kernel may use (kernels/simt/README.md says more):
//   __global__ __device__ __host__ __forceinline__ __launch_bounds__ __shared__
//   __constant__ __restrict__ __align__, threadIdx blockIdx blockDim gridDim warpSize
//   __syncthreads[_count|_and|_or], __shfl[_up|_down|_xor]_sync, __ballot_sync,
//   __any_sync, __all_sync, __syncwarp, __reduce_{add,min,max,and,or,xor}_sync,
//   atomic{Add,Sub,Exch,Min,Max,CAS,And,Or,Xor,Inc,Dec}, __threadfence*,
//   __ldg, fast math (__expf, __fdividef, rsqrtf, ...), __nv_bfloat16 from cuda_bf16.h
// plus what CUDA spells differently here:
//   MAPET_LAUNCH(kernel, grid, block, smem_bytes, stream, args...)   instead of <<<>>>
//   MAPET_DYNAMIC_SMEM(T, name);             extern __shared__ T name[] (16-byte aligned)
//   MAPET_SET_MAX_DYNAMIC_SMEM(kernel, bytes)   before launching with > 48 KiB dynamic smem
//   mma_m16n8k16_bf16_f32(d, a, b, c), ldmatrix_x{1,2,4}[_trans](r, smem_row_ptr),
//   cp_async_{4,8,16}(smem, gmem), cp_async_{4,8,16}_zfill(smem, gmem, src_bytes),
//   cp_async_commit(), cp_async_wait<N>(), cp_async_wait_all()
// A template kernel goes in parentheses: MAPET_LAUNCH((k<float, 4>), grid, ...).
// Not in the dialect: <<<>>>, inline asm, implicit warp-synchronous code
// (every warp exchange goes through a *_sync intrinsic), __activemask,
// cooperative groups, grid-wide sync, dynamic parallelism.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)  // ----------------------------------------------- nvcc

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace mapet::dialect {
inline void check(cudaError_t e, const char* what, const char* kernel, const char* file, int line) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string(what) + " of kernel '" + kernel + "' at " + file + ":" + std::to_string(line) +
                             " failed: " + cudaGetErrorString(e));
  }
}
}  // namespace mapet::dialect

#define MAPET_LAUNCH(kernel, grid, block, smem_bytes, stream, ...)                               \
  do {                                                                                            \
    kernel<<<(grid), (block), (smem_bytes), (stream)>>>(__VA_ARGS__);                             \
    ::mapet::dialect::check(cudaGetLastError(), "launch", #kernel, __FILE__, __LINE__);          \
  } while (0)

#define MAPET_SET_MAX_DYNAMIC_SMEM(kernel, bytes)                                                         \
  ::mapet::dialect::check(                                                                                \
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), \
      "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)", #kernel, __FILE__, __LINE__)

#define MAPET_DYNAMIC_SMEM(T, name)                                   \
  extern __shared__ __align__(16) unsigned char mapet_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(mapet_dynamic_smem_)

__device__ __forceinline__ uint32_t mapet_smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mma_m16n8k16_bf16_f32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                      const float c[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
}

__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(mapet_smem_addr(p)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(mapet_smem_addr(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(mapet_smem_addr(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0])
               : "r"(mapet_smem_addr(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(mapet_smem_addr(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(mapet_smem_addr(p))
               : "memory");
}

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(mapet_smem_addr(smem)), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_8(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(mapet_smem_addr(smem)), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_4(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(mapet_smem_addr(smem)), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_16_zfill(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(mapet_smem_addr(smem)), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_8_zfill(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(mapet_smem_addr(smem)), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_4_zfill(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(mapet_smem_addr(smem)), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

#else  // ------------------------------------------------------------ g++: simt

#define MAPET_SIMT 1
// NVIDIA's own headers first: dim3/uint3, cudaStream_t & co, and the bf16/f16
// types (whose host code rounds exactly as the GPU does). Then the runtime.
#include <cuda_bf16.h>
#include <driver_types.h>
#include <vector_types.h>

#include "kernels/simt/runtime.h"

// Qualifiers: host_defines.h maps most of them to nothing under g++; these
// are the ones with a meaning here.
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#undef __constant__
#define __constant__
#undef __managed__
#define __managed__
// One instance per running block: each worker OS thread runs one block at a
// time, with all of that block's threads (fibers) on it.
#undef __shared__
#define __shared__ static thread_local
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#ifndef __forceinline__
#define __forceinline__ inline __attribute__((always_inline))
#endif

#define threadIdx (::mapet::simt::detail::thread_idx())
#define blockIdx (static_cast<const uint3&>(::mapet::simt::detail::tls_runner->block_idx))
#define blockDim (static_cast<const dim3&>(::mapet::simt::detail::tls_runner->block_dim))
#define gridDim (static_cast<const dim3&>(::mapet::simt::detail::tls_runner->grid_dim))
inline constexpr int warpSize = 32;

#define MAPET_LAUNCH(kernel, grid, block, smem_bytes, stream, ...) \
  ::mapet::simt::launch(#kernel, kernel, (grid), (block), (smem_bytes), (stream)__VA_OPT__(, ) __VA_ARGS__)

#define MAPET_SET_MAX_DYNAMIC_SMEM(kernel, bytes) ::mapet::simt::set_max_dynamic_smem(#kernel, kernel, (bytes))

#define MAPET_DYNAMIC_SMEM(T, name) T* name = reinterpret_cast<T*>(::mapet::simt::detail::tls_runner->dynamic_smem)

#endif
