#include "engine/ops/softmax.h"

#include "engine/backend.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/softmax.cuh"

namespace mapet::ops {

Var softmax(const Var& x, float scale) {
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("softmax", {xv});
  const int64_t cols = x.size(-1), rows = xv.numel() / cols;
  Tensor y = Tensor::empty(x.shape());
  MAPET_BACKEND_CALL(dev, softmax_forward, xv.data<float>(), y.data<float>(), rows, cols, scale);
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, y, rows, cols, scale, dev](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    MAPET_BACKEND_CALL(dev, softmax_backward, y.data<float>(), dy.data<float>(), dx.data<float>(), rows, cols, scale);
    autograd::accumulate(x, dx);
  });
  return out;
}

}  // namespace mapet::ops
