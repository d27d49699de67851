// Convolution through cuDNN (a real GPU only; prepared, not yet run: no GPU
// here). kernels/cuda/conv2d.cu calls it for cuda::conv2d_nhwc in the GPU
// build: the same contract (NHWC activations, KRSC weights, f32).
// cuDNN's legacy convolution API: descriptors per call, the fastest algorithm
// per shape found once (cudnnGetConvolutionForwardAlgorithm_v7) and cached,
// the math mode CUDNN_FMA_MATH (true f32 products, never TF32: the features
// feed a nearest-centroid assignment, which TF32's 10-bit mantissas would
// change). Throws std::runtime_error naming the cuDNN call.
#pragma once
#include <cstdint>

#include "kernels/common/conv2d.h"

namespace mapet::cuda {

void conv2d_nhwc_cudnn(const common::ConvGeometry& g, int64_t n, int64_t h, int64_t w, const float* x,
                       const float* weight, const float* bias, bool relu, float* y, void* stream);

}  // namespace mapet::cuda
