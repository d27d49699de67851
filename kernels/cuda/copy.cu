// Strided n-d copy (twin: kernels/cpu/copy.cpp). A thread per element of the
// shape, grid-strided in row-major order; each thread turns its index into
// coordinates and both offsets. The shape and strides travel by value in the
// kernel's parameters (no device copy of them needed).
#include "kernels/cuda/dialect.cuh"

#include <stdexcept>
#include <string>

#include "kernels/cuda/copy.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

struct Layout {
  int64_t shape[kMaxCopyDims], dst[kMaxCopyDims], src[kMaxCopyDims];
  int ndim;
};

template <class T>
__global__ void __launch_bounds__(kThreads)
    copy_strided_kernel(T* __restrict__ dst, const T* __restrict__ src, Layout l, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    int64_t rest = i, d_off = 0, s_off = 0;
    for (int ax = l.ndim - 1; ax >= 0; --ax) {  // innermost first
      const int64_t c = rest % l.shape[ax];
      rest /= l.shape[ax];
      d_off += c * l.dst[ax];
      s_off += c * l.src[ax];
    }
    dst[d_off] = src[s_off];
  }
}

template <class T>
void launch(void* dst, const void* src, const Layout& l, int64_t n, void* stream) {
  MAPET_LAUNCH(copy_strided_kernel<T>, detail::grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream),
               static_cast<T*>(dst), static_cast<const T*>(src), l, n);
}

}  // namespace

void copy_strided(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es, void* stream) {
  if (ndim < 0 || ndim > kMaxCopyDims)
    throw std::invalid_argument("cuda::copy_strided: " + std::to_string(ndim) + " dimensions, at most " +
                                std::to_string(kMaxCopyDims));
  Layout l{};
  l.ndim = ndim;
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) {
    l.shape[i] = shape[i], l.dst[i] = dst_strides[i], l.src[i] = src_strides[i];
    n *= shape[i];
  }
  if (n == 0) return;
  switch (es) {
    case 1: return launch<uint8_t>(dst, src, l, n, stream);
    case 2: return launch<uint16_t>(dst, src, l, n, stream);
    case 4: return launch<uint32_t>(dst, src, l, n, stream);
    case 8: return launch<uint64_t>(dst, src, l, n, stream);
    default: throw std::invalid_argument("cuda::copy_strided: element size " + std::to_string(es) + " bytes");
  }
}

}  // namespace mapet::cuda
