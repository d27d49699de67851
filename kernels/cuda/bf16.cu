// bf16 casts (twins: cpu::to_bf16 / round_to_bf16 in kernels/cpu/gemm.cpp).
// Per element common::float_to_bf16 / bf16_to_float, not the hardware cvt:
// the two round alike but write different NaN payloads, and the CPU's bits
// are the contract. Grid-stride loops, four elements per step where both
// sides are aligned for it (float4 / 8-byte bf16 quads), a scalar tail.
#include "kernels/cuda/dialect.cuh"

#include "kernels/common/bf16.h"
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

struct ToBf16 {
  using In = float;
  using Out = uint16_t;
  __device__ __forceinline__ uint16_t operator()(float v) const { return common::float_to_bf16(v); }
};
struct RoundBf16 {
  using In = float;
  using Out = float;
  __device__ __forceinline__ float operator()(float v) const {
    return common::bf16_to_float(common::float_to_bf16(v));
  }
};
struct FromBf16 {
  using In = uint16_t;
  using Out = float;
  __device__ __forceinline__ float operator()(uint16_t v) const { return common::bf16_to_float(v); }
};

// Four values of T as one aligned access (16 bytes of float, 8 of bf16).
template <class T>
struct alignas(4 * sizeof(T)) Quad {
  T v[4];
};

template <class Op, bool kVec>
__global__ void __launch_bounds__(kThreads)
    cast_kernel(const typename Op::In* __restrict__ x, typename Op::Out* __restrict__ y, int64_t n) {
  using In = typename Op::In;
  using Out = typename Op::Out;
  const Op op;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  int64_t done = 0;
  if constexpr (kVec) {
    const int64_t nq = n / 4;
    for (int64_t i = t; i < nq; i += stride) {
      const Quad<In> a = reinterpret_cast<const Quad<In>*>(x)[i];
      Quad<Out> b;
      MAPET_UNROLL
      for (int k = 0; k < 4; ++k) b.v[k] = op(a.v[k]);
      reinterpret_cast<Quad<Out>*>(y)[i] = b;
    }
    done = nq * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) y[i] = op(x[i]);
}

template <class Op>
void launch(const typename Op::In* x, typename Op::Out* y, int64_t n, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const bool vec = reinterpret_cast<uintptr_t>(x) % (4 * sizeof(*x)) == 0 &&
                   reinterpret_cast<uintptr_t>(y) % (4 * sizeof(*y)) == 0;
  if (vec) MAPET_LAUNCH((cast_kernel<Op, true>), detail::grid_for(n / 4 + 1, kThreads), kThreads, 0, s, x, y, n);
  else MAPET_LAUNCH((cast_kernel<Op, false>), detail::grid_for(n, kThreads), kThreads, 0, s, x, y, n);
}

}  // namespace

void to_bf16(const float* x, uint16_t* y, int64_t n, void* stream) { launch<ToBf16>(x, y, n, stream); }
void round_to_bf16(const float* x, float* y, int64_t n, void* stream) { launch<RoundBf16>(x, y, n, stream); }
void from_bf16(const uint16_t* x, float* y, int64_t n, void* stream) { launch<FromBf16>(x, y, n, stream); }

}  // namespace mapet::cuda
