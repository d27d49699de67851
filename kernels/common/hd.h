// Marks functions that both backends compile: g++ for the CPU kernels, nvcc for the CUDA ones.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MAPET_HD __host__ __device__ __forceinline__
#define MAPET_HOST_DEVICE __host__ __device__
#else
#define MAPET_HD inline __attribute__((always_inline))
#define MAPET_HOST_DEVICE  // small members (accessors): inlined as the optimiser sees fit
#endif

namespace mapet::common {

MAPET_HD float bits_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

MAPET_HD uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

}  // namespace mapet::common
