#include "engine/ops/conv2d.h"

#include "engine/backend.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cuda/conv2d.cuh"

namespace mapet::ops {

namespace {

void check_f32(const Tensor& x, const std::string& what) {
  if (x.dtype() != DType::f32) throw Error(what + ": expected f32, got " + x.str());
}

void check_cpu_f32(const Tensor& x, const std::string& what) {
  if (x.device() != Device::cpu)
    throw Error(what + ": expected the weights on the CPU (they are prepared for the device once), got a " +
                std::string(device_name(x.device())) + " tensor");
  check_f32(x, what);
}

}  // namespace

Conv2d::Conv2d(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding, bool relu, std::string name,
               Device device)
    : name_(std::move(name)), device_(device), relu_(relu) {
  check_cpu_f32(weight, name_ + ".weight");
  if (weight.dim() != 4) throw Error(name_ + ".weight: expected [C_out, C_in, kh, kw], got " + weight.str());
  if (bias.defined()) {
    check_cpu_f32(bias, name_ + ".bias");
    if (bias.dim() != 1 || bias.size(0) != weight.size(0))
      throw Error(name_ + ".bias: expected [" + std::to_string(weight.size(0)) + "], got " + bias.str());
  }
  if (stride < 1 || padding < 0)
    throw Error(name_ + ": stride must be >= 1 and padding >= 0, got " + std::to_string(stride) + ", " +
                std::to_string(padding));
  cpu::ConvGeometry& g = geometry_;
  g.c_out = weight.size(0), g.c_in = weight.size(1), g.kh = weight.size(2), g.kw = weight.size(3);
  g.stride = stride, g.pad = padding;
  if (device_ == Device::cpu) {
    Tensor w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : Tensor();
    conv_ = std::make_unique<cpu::Conv2dNhwc>(g, w.data<float>(), b.defined() ? b.data<float>() : nullptr, relu);
  } else {
    weight_ = weight.permute({0, 2, 3, 1}).contiguous().to(device_);  // KRSC: the channel last
    if (bias.defined()) bias_ = bias.contiguous().to(device_);
  }
}

Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) noexcept = default;

int64_t Conv2d::in_channels() const { return geometry_.c_in; }
int64_t Conv2d::out_channels() const { return geometry_.c_out; }

Tensor Conv2d::forward(const Tensor& x) const {
  check_f32(x, name_ + " input");
  if (x.device() != device_)
    throw Error(name_ + ": its weights are on " + device_name(device_) + ", the input " + x.str() + " on " +
                device_name(x.device()));
  const cpu::ConvGeometry& g = geometry_;
  if (x.dim() != 4 || x.size(3) != g.c_in)
    throw Error(name_ + ": expected input [N, H, W, " + std::to_string(g.c_in) + "] (NHWC), got " + x.str());
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2);
  if (g.out_h(h) < 1 || g.out_w(w) < 1)
    throw Error(name_ + ": input " + x.str() + " is smaller than the " + std::to_string(g.kh) + "x" +
                std::to_string(g.kw) + " kernel");
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({n, g.out_h(h), g.out_w(w), g.c_out}, DType::f32, device_);
  if (device_ == Device::cpu) {
    conv_->forward(n, h, w, xc.data<float>(), y.data<float>());
  } else {
    const float* b = bias_.defined() ? bias_.data<float>() : nullptr;
    backend::cuda_call("conv2d_nhwc", [&] {
      cuda::conv2d_nhwc(g, n, h, w, xc.data<float>(), weight_.data<float>(), b, relu_, y.data<float>());
    });
  }
  return y;
}

Tensor avg_pool2d_nhwc(const Tensor& x, int64_t k) {
  check_f32(x, "avg_pool2d");
  if (x.dim() != 4 || k < 1 || x.size(1) < k || x.size(2) < k)
    throw Error("avg_pool2d(" + std::to_string(k) + "): expected [N, H, W, C] with H, W >= " + std::to_string(k) +
                ", got " + x.str());
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1) / k, x.size(2) / k, x.size(3)}, DType::f32, x.device());
  MAPET_BACKEND_CALL(x.device(), avg_pool_nhwc, x.size(0), x.size(1), x.size(2), x.size(3), k, xc.data<float>(),
                     y.data<float>());
  return y;
}

void add_relu_(Tensor& y, const Tensor& r) {
  check_f32(y, "add_relu");
  const Device dev = backend::device_of("add_relu", {y, r});
  if (y.shape() != r.shape() || !y.is_contiguous())
    throw Error("add_relu: expected a contiguous tensor and a residual of the same shape, got " + y.str() + " and " +
                r.str());
  Tensor rc = r.contiguous();
  MAPET_BACKEND_CALL(dev, add_relu, y.data<float>(), rc.data<float>(), y.numel());
}

Tensor nchw_to_nhwc(const Tensor& x) {
  if (x.dim() != 4) throw Error("nchw_to_nhwc: expected [N, C, H, W], got " + x.str());
  return x.permute({0, 2, 3, 1}).contiguous();
}

}  // namespace mapet::ops
