// Convolution and pooling for the CLIP ResNet image encoders: forward only
// (they extract features and never train), on NHWC tensors [N, H, W, C], which
// is also the layout of the patch features they produce ([N, H*W, C] is a view).
// CPU: oneDNN (kernels/cpu/conv2d.h). The CUDA path (cuDNN) is not built yet:
// CUDA tensors are refused with a message.
#pragma once
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace mapet::cpu {
class Conv2dNhwc;
}

namespace mapet::ops {

// A convolution layer with its weights prepared for the backend once.
class Conv2d {
 public:
  // weight f32 [C_out, C_in, kh, kw] (PyTorch's layout), bias f32 [C_out] or
  // undefined; relu fuses max(0, .) into the output. `name` (the parameter
  // prefix, e.g. "visual.layer1.0.conv2") appears in every message.
  Conv2d(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding, bool relu, std::string name);
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;

  // x f32 [N, H, W, C_in] -> [N, OH, OW, C_out].
  Tensor forward(const Tensor& x) const;
  const std::string& name() const { return name_; }
  int64_t in_channels() const;
  int64_t out_channels() const;

 private:
  std::string name_;
  std::unique_ptr<cpu::Conv2dNhwc> conv_;
};

// AvgPool2d(k), kernel = stride = k: [N, H, W, C] -> [N, H/k, W/k, C].
Tensor avg_pool2d_nhwc(const Tensor& x, int64_t k);
// y = max(y + r, 0) in place (same shapes).
void add_relu_(Tensor& y, const Tensor& r);
// [N, C, H, W] -> [N, H, W, C] (a contiguous copy).
Tensor nchw_to_nhwc(const Tensor& x);

}  // namespace mapet::ops
