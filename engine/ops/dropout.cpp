#include "engine/ops/dropout.h"

#include "engine/backend.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cuda/dropout.cuh"

namespace mapet::ops {

Var dropout(const Var& x, float p, bool training, Generator& gen) {
  if (!training || p <= 0.0f) return x;
  if (p >= 1.0f) throw Error("dropout: p must be below 1, got " + std::to_string(p));
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("dropout", {xv});
  const int64_t n = xv.numel();
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev), keep = Tensor::empty(x.shape(), DType::u8, dev);
  MAPET_BACKEND_CALL(dev, dropout_forward, xv.data<float>(), y.data<float>(), keep.data<uint8_t>(), n, p, gen.seed(),
                     gen.take(static_cast<uint64_t>(n)));
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, keep, n, p, dev](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, dropout_backward, keep.data<uint8_t>(), dy.data<float>(), dx.data<float>(), n, p);
    autograd::accumulate(x, dx);
  });
  return out;
}

Var drop_path(const Var& x, float p, bool training, Generator& gen) {
  if (!training || p <= 0.0f) return x;
  if (p >= 1.0f) throw Error("drop_path: p must be below 1, got " + std::to_string(p));
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("drop_path", {xv});
  const int64_t rows = x.size(0), row_len = xv.numel() / rows;
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev), row_scale = Tensor::empty({rows}, DType::f32, dev);
  MAPET_BACKEND_CALL(dev, drop_path_forward, xv.data<float>(), y.data<float>(), row_scale.data<float>(), rows, row_len,
                     p, gen.seed(), gen.take(static_cast<uint64_t>(rows)));
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, row_scale, rows, row_len, dev](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, row_scale_apply, dy.data<float>(), row_scale.data<float>(), dx.data<float>(), rows,
                       row_len);
    autograd::accumulate(x, dx);
  });
  return out;
}

}  // namespace mapet::ops
