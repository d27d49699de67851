// Strided copy (twin: kernels/cpu/copy.cpp). The host simplifies the layout as
// the CPU does (size-1 dims dropped, dims contiguous in both layouts merged),
// then a thread per element (grid-strided) finds its source and destination
// offsets from its index: the innermost dim runs across the threads of a
// warp, so a copy whose rows are contiguous is coalesced on both sides. The
// bytes are moved, never converted: the result is the CPU's bit for bit.
#include "kernels/cuda/dialect.cuh"

#include <stdexcept>
#include <string>

#include "kernels/cuda/copy.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxDims = 8;

// The simplified layout, passed by value (a kernel parameter, in constant memory).
struct Layout {
  int nd;
  int64_t shape[kMaxDims], dst[kMaxDims], src[kMaxDims];  // strides in elements
};

// Word: the type that moves one element (es = sizeof(Word) of 2, 4, 8), or
// unsigned char, es bytes per element (es = 1 included).
template <class Word>
__global__ void __launch_bounds__(kThreads)
    copy_strided_kernel(Word* __restrict__ dst, const Word* __restrict__ src, const Layout l, int64_t total,
                        int64_t es) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total; t += stride) {
    int64_t rem = t, d = 0, s = 0;
    // Unrolled over every possible dim, so each array index is a constant: a
    // dynamic index into a parameter array would copy it to the stack.
MAPET_UNROLL
    for (int i = kMaxDims - 1; i >= 0; --i) {
      if (i >= l.nd) continue;
      const int64_t idx = rem % l.shape[i];
      rem /= l.shape[i];
      d += idx * l.dst[i];
      s += idx * l.src[i];
    }
    if constexpr (sizeof(Word) == 1) {
      for (int64_t b = 0; b < es; ++b) dst[d * es + b] = src[s * es + b];
    } else {
      dst[d] = src[s];
    }
  }
}

template <class Word>
void launch(void* dst, const void* src, const Layout& l, int64_t total, int64_t es, void* stream) {
  MAPET_LAUNCH(copy_strided_kernel<Word>, detail::grid_for(total, kThreads), kThreads, 0,
               static_cast<cudaStream_t>(stream), static_cast<Word*>(dst), static_cast<const Word*>(src), l, total,
               es);
}

}  // namespace

void copy_strided(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es, void* stream) {
  Layout l{};
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] == 0) return;
    if (shape[i] == 1) continue;
    if (l.nd > 0 && l.dst[l.nd - 1] == dst_strides[i] * shape[i] && l.src[l.nd - 1] == src_strides[i] * shape[i]) {
      l.shape[l.nd - 1] *= shape[i];
      l.dst[l.nd - 1] = dst_strides[i];
      l.src[l.nd - 1] = src_strides[i];
      continue;
    }
    if (l.nd == kMaxDims)
      throw std::invalid_argument("cuda::copy_strided: more than " + std::to_string(kMaxDims) +
                                  " dims remain after merging the contiguous ones");
    l.shape[l.nd] = shape[i];
    l.dst[l.nd] = dst_strides[i];
    l.src[l.nd] = src_strides[i];
    ++l.nd;
  }
  int64_t total = 1;
  for (int i = 0; i < l.nd; ++i) total *= l.shape[i];  // no dims left: one element (a scalar)
  const int64_t e = static_cast<int64_t>(es);
  switch (es) {
    case 2: launch<uint16_t>(dst, src, l, total, e, stream); break;
    case 4: launch<uint32_t>(dst, src, l, total, e, stream); break;
    case 8: launch<uint64_t>(dst, src, l, total, e, stream); break;
    default: launch<unsigned char>(dst, src, l, total, e, stream); break;
  }
}

}  // namespace mapet::cuda
