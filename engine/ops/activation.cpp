#include "engine/ops/activation.h"

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/softmax.h"

namespace mapet::ops {

Var gelu(const Var& x) {
  Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty(x.shape());
  cpu::gelu_forward(xv.data<float>(), y.data<float>(), y.numel());
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, xv](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    cpu::gelu_backward(xv.data<float>(), dy.data<float>(), dx.data<float>(), dx.numel());
    autograd::accumulate(x, dx);
  });
  return out;
}

Var softmax(const Var& x, float scale) {
  Tensor xv = x.value().contiguous();
  const int64_t cols = x.size(-1), rows = xv.numel() / cols;
  Tensor y = Tensor::empty(x.shape());
  cpu::softmax_forward(xv.data<float>(), y.data<float>(), rows, cols, scale);
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, y, rows, cols, scale](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    cpu::softmax_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), rows, cols, scale);
    autograd::accumulate(x, dx);
  });
  return out;
}

}  // namespace mapet::ops
