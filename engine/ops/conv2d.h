// Convolution and pooling for the CLIP ResNet image encoders: forward only
// (they extract features and never train), on NHWC tensors [N, H, W, C], which
// is also the layout of the patch features they produce ([N, H*W, C] is a view).
// CPU: oneDNN (kernels/cpu/conv2d.h). Device::cuda: cuda::conv2d_nhwc
// (kernels/cuda/conv2d.cuh: cuDNN on a GPU, im2col + the own GEMM under simt).
#pragma once
#include <memory>
#include <string>

#include "engine/tensor.h"
#include "kernels/common/conv2d.h"

namespace mapet::cpu {
class Conv2dNhwc;
using common::ConvGeometry;
}

namespace mapet::ops {

// A convolution layer with its weights prepared for the backend once.
class Conv2d {
 public:
  // weight f32 [C_out, C_in, kh, kw] (PyTorch's layout), bias f32 [C_out] or
  // undefined; relu fuses max(0, .) into the output. `name` (the parameter
  // prefix, e.g. "visual.layer1.0.conv2") appears in every message. The
  // weights (on the CPU) are prepared once for `device`, where its inputs must be.
  Conv2d(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding, bool relu, std::string name,
         Device device = Device::cpu);
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;

  // x f32 [N, H, W, C_in] -> [N, OH, OW, C_out].
  Tensor forward(const Tensor& x) const;
  const std::string& name() const { return name_; }
  int64_t in_channels() const;
  int64_t out_channels() const;
  Device device() const { return device_; }

 private:
  std::string name_;
  Device device_;
  bool relu_;
  cpu::ConvGeometry geometry_;
  std::unique_ptr<cpu::Conv2dNhwc> conv_;  // the CPU's oneDNN primitive
  Tensor weight_, bias_;                   // on the device: [c_out, kh, kw, c_in] (KRSC) and [c_out]
};

// AvgPool2d(k), kernel = stride = k: [N, H, W, C] -> [N, H/k, W/k, C]. (These three run on either device.)
Tensor avg_pool2d_nhwc(const Tensor& x, int64_t k);
// y = max(y + r, 0) in place (same shapes).
void add_relu_(Tensor& y, const Tensor& r);
// [N, C, H, W] -> [N, H, W, C] (a contiguous copy).
Tensor nchw_to_nhwc(const Tensor& x);

}  // namespace mapet::ops
