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
