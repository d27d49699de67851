// 2-D convolution (forward only, NHWC) and the CLIP ResNet's pooling and
// residual join on the GPU: the twins of kernels/cpu/conv2d.h (device
// pointers; the stream last, null: the default stream).
#pragma once
#include <cstdint>

#include "kernels/common/conv2d.h"

namespace mapet::cuda {

using common::ConvGeometry;

// y [n, out_h, out_w, c_out] = relu?(conv(x, weight) + bias), x [n, h, w, c_in].
// weight [c_out, kh, kw, c_in] (KRSC: PyTorch's [c_out, c_in, kh, kw] with the
// channel last, the layout of cuDNN's NHWC filters and of the im2col GEMM's B),
// bias [c_out] or null. On a GPU: cuDNN (kernels/cuda/cudnn_conv.h), unless
// MAPET_CONV=own or the build has no cuDNN; then, and under simt, im2col (a
// patch matrix in scratch memory, a group of images at a time) and the own
// GEMM (kernels/cuda/gemm.cuh) with the bias in its epilogue, then ReLU.
// Products in f32 either way (no TF32): the sums' order differs from the
// CPU's oneDNN, so the two agree to rounding, not bit for bit.
void conv2d_nhwc(const ConvGeometry& g, int64_t n, int64_t h, int64_t w, const float* x, const float* weight,
                 const float* bias, bool relu, float* y, void* stream = nullptr);

// AvgPool2d(k) with kernel = stride = k: x [n, h, w, c] -> y [n, h/k, w/k, c],
// each output summed in the CPU's order (bit for bit cpu::avg_pool_nhwc).
void avg_pool_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, const float* x, float* y,
                   void* stream = nullptr);

// y = max(y + r, 0) over n values.
void add_relu(float* y, const float* r, int64_t n, void* stream = nullptr);

}  // namespace mapet::cuda
