// The geometry of a 2-D convolution (NHWC activations), shared by the CPU
// (oneDNN) and CUDA (cuDNN, or im2col + GEMM) convolutions.
#pragma once
#include <cstdint>

#include "kernels/common/hd.h"

namespace mapet::common {

struct ConvGeometry {
  int64_t c_in = 0, c_out = 0, kh = 1, kw = 1, stride = 1, pad = 0;
  MAPET_HOST_DEVICE int64_t out_h(int64_t h) const { return (h + 2 * pad - kh) / stride + 1; }
  MAPET_HOST_DEVICE int64_t out_w(int64_t w) const { return (w + 2 * pad - kw) / stride + 1; }
  // The inner dimension of the convolution as a GEMM: one patch, (ky, kx, channel) with the channel fastest.
  MAPET_HOST_DEVICE int64_t patch_size() const { return kh * kw * c_in; }
  // A 1x1 convolution with stride 1 and no padding is a GEMM on the activations themselves.
  MAPET_HOST_DEVICE bool is_pointwise() const { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }
};

}  // namespace mapet::common
