#include "engine/ops/gelu.h"

#include "engine/backend.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cuda/gelu.cuh"

namespace mapet::ops {

Var gelu(const Var& x) {
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("gelu", {xv});
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev);
  MAPET_BACKEND_CALL(dev, gelu_forward, xv.data<float>(), y.data<float>(), y.numel());
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, xv, dev](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, gelu_backward, xv.data<float>(), dy.data<float>(), dx.data<float>(), dx.numel());
    autograd::accumulate(x, dx);
  });
  return out;
}

Var bias_gelu(const Var& x, const Var& bias) {
  const int64_t cols = x.size(-1);
  if (bias.dim() != 1 || bias.size(0) != cols)
    throw Error("bias_gelu: bias " + bias.value().str() + " does not match the last dimension of " + x.value().str());
  Tensor xv = x.value().contiguous(), bv = bias.value().contiguous();
  const Device dev = backend::device_of("bias_gelu", {xv, bv});
  const int64_t rows = cols ? xv.numel() / cols : 0;
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev);
  MAPET_BACKEND_CALL(dev, bias_gelu_forward, xv.data<float>(), bv.data<float>(), y.data<float>(), rows, cols);
  Var out = autograd::make_output(y, {&x, &bias});
  autograd::record(out, [x, bias, xv, bv, rows, cols, dev](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev), db = Tensor::empty(bias.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, bias_gelu_backward, xv.data<float>(), bv.data<float>(), dy.data<float>(), dx.data<float>(),
                       db.data<float>(), rows, cols);
    autograd::accumulate(x, dx);
    autograd::accumulate(bias, db);
  });
  return out;
}

}  // namespace mapet::ops
