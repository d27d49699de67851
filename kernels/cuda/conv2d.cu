// Convolution, average pooling and the residual join of the CLIP ResNet
// encoders (twins: kernels/cpu/conv2d.cpp). The convolution is cuDNN's on a
// GPU; here is its other form, which simt runs: im2col + the own GEMM.
//
// im2col writes, for each output pixel (a GEMM row), its receptive field as
// (ky, kx, channel) with the channel fastest — the order of the KRSC weights'
// rows — so y = cols * weight^T is one GEMM with the bias in its epilogue.
// A thread per element of cols (grid-strided): consecutive threads read
// consecutive channels of one input pixel and write consecutive columns.
#include "kernels/cuda/dialect.cuh"

#include <cstdlib>
#include <cstring>

#include "kernels/cuda/conv2d.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/support.cuh"
#if !defined(MAPET_SIMT) && !defined(MAPET_NO_CUDNN)
#include "kernels/cuda/cudnn_conv.h"
#endif

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;
// The largest patch matrix, in floats (256 MiB): bigger batches go a group of images at a time.
constexpr int64_t kColsBudget = int64_t{1} << 26;

__global__ void __launch_bounds__(kThreads)
    im2col_nhwc_kernel(const float* __restrict__ x, float* __restrict__ cols, ConvGeometry g, int64_t h, int64_t w,
                       int64_t oh, int64_t ow, int64_t total) {
  const int64_t k_size = g.patch_size();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < total; i += stride) {
    const int64_t m = i / k_size, k = i - m * k_size;
    const int64_t ci = k % g.c_in, kk = k / g.c_in;
    const int64_t kx = kk % g.kw, ky = kk / g.kw;
    const int64_t ox = m % ow, t = m / ow;
    const int64_t oy = t % oh, b = t / oh;
    const int64_t iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
    cols[i] = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((b * h + iy) * w + ix) * g.c_in + ci] : 0.0f;
  }
}

__global__ void __launch_bounds__(kThreads) relu_kernel(float* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride)
    y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

// A thread per output element; the window summed row by row from 0, then
// scaled, as the CPU does (the same bits).
__global__ void __launch_bounds__(kThreads)
    avg_pool_nhwc_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t h, int64_t w, int64_t c,
                         int64_t k, int64_t oh, int64_t ow, int64_t total, float inv) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < total; i += stride) {
    const int64_t ci = i % c, p = i / c;
    const int64_t ox = p % ow, t = p / ow;
    const int64_t oy = t % oh, b = t / oh;
    float s = 0.0f;
    for (int64_t ky = 0; ky < k; ++ky)
      for (int64_t kx = 0; kx < k; ++kx) s += x[((b * h + oy * k + ky) * w + ox * k + kx) * c + ci];
    y[i] = s * inv;
  }
}

__global__ void __launch_bounds__(kThreads) add_relu_kernel(float* __restrict__ y, const float* __restrict__ r, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const float v = y[i] + r[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

#if !defined(MAPET_SIMT) && !defined(MAPET_NO_CUDNN)
// MAPET_CONV=own: the im2col path on a GPU too (to compare it with cuDNN).
bool own_conv_requested() {
  static const bool own = [] {
    const char* s = std::getenv("MAPET_CONV");
    return s && std::strcmp(s, "own") == 0;
  }();
  return own;
}
#endif

}  // namespace

void conv2d_nhwc(const ConvGeometry& g, int64_t n, int64_t h, int64_t w, const float* x, const float* weight,
                 const float* bias, bool relu, float* y, void* stream) {
  const int64_t oh = g.out_h(h), ow = g.out_w(w), pixels = oh * ow;
  if (n <= 0 || oh <= 0 || ow <= 0 || g.c_out <= 0) return;
#if !defined(MAPET_SIMT) && !defined(MAPET_NO_CUDNN)
  if (!own_conv_requested()) return conv2d_nhwc_cudnn(g, n, h, w, x, weight, bias, relu, y, stream);
#endif
  const int64_t k_size = g.patch_size();
  if (g.is_pointwise()) {
    gemm(false, true, n * pixels, g.c_out, k_size, x, weight, y, 0.0f, bias, stream);
  } else {
    const int64_t per_image = pixels * k_size;
    const int64_t group = std::max<int64_t>(1, std::min<int64_t>(n, kColsBudget / std::max<int64_t>(1, per_image)));
    detail::Scratch<float> cols(static_cast<size_t>(group * per_image), stream);
    for (int64_t b0 = 0; b0 < n; b0 += group) {
      const int64_t nb = std::min(group, n - b0), total = nb * per_image;
      MAPET_LAUNCH(im2col_nhwc_kernel, detail::grid_for(total, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream),
                   x + b0 * h * w * g.c_in, cols.get(), g, h, w, oh, ow, total);
      gemm(false, true, nb * pixels, g.c_out, k_size, cols.get(), weight, y + b0 * pixels * g.c_out, 0.0f, bias,
           stream);
    }
  }
  if (relu) {
    const int64_t total = n * pixels * g.c_out;
    MAPET_LAUNCH(relu_kernel, detail::grid_for(total, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream), y,
                 total);
  }
}

void avg_pool_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, const float* x, float* y, void* stream) {
  const int64_t oh = h / k, ow = w / k, total = n * oh * ow * c;
  if (total <= 0) return;
  const float inv = 1.0f / static_cast<float>(k * k);
  MAPET_LAUNCH(avg_pool_nhwc_kernel, detail::grid_for(total, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream),
               x, y, h, w, c, k, oh, ow, total, inv);
}

void add_relu(float* y, const float* r, int64_t n, void* stream) {
  if (n <= 0) return;
  MAPET_LAUNCH(add_relu_kernel, detail::grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream), y, r, n);
}

}  // namespace mapet::cuda
