#include "engine/ops/reduce.h"

#include "engine/backend.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mapet::ops {

Var mean(const Var& x, int64_t dim) {
  if (dim < 0) dim += x.dim();
  if (dim < 0 || dim >= x.dim()) throw Error("mean: dim out of range for " + x.value().str());
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("mean", {xv});
  int64_t outer = 1, inner = 1, n = x.size(dim);
  for (int64_t i = 0; i < dim; ++i) outer *= x.size(i);
  for (int64_t i = dim + 1; i < x.dim(); ++i) inner *= x.size(i);
  Shape s = x.shape();
  s.erase(s.begin() + dim);
  Tensor y = Tensor::empty(s, DType::f32, dev);
  // Each mean sums its n values in order and scales by 1/n: the same bits on both backends.
  MAPET_BACKEND_CALL(dev, mean_dim, xv.data<float>(), y.data<float>(), outer, n, inner);
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, outer, inner, n, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, mean_dim_backward, g.data<float>(), dx.data<float>(), outer, n, inner);
    autograd::accumulate(x, dx);
  });
  return out;
}

Var sum(const Var& x) {
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("sum", {xv});
  // The column sum of one column: chunks of 64 values in order, then the chunk
  // sums in order (kernels/cpu/reduce.h), so both backends give the same bits
  // and the result stays on the device.
  Tensor y = Tensor::empty({1}, DType::f32, dev);
  MAPET_BACKEND_CALL(dev, sum_rows, xv.data<float>(), y.data<float>(), xv.numel(), 1);
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, dev](const Tensor& gv) {
    // dx = 0 + g broadcast over every element (exact), without reading g back to the host.
    Tensor g = gv.contiguous();
    Tensor zero = Tensor::zeros(x.shape(), DType::f32, dev), dx = Tensor::empty(x.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, add_broadcast, zero.data<float>(), g.data<float>(), dx.data<float>(), dx.numel(), 1);
    autograd::accumulate(x, dx);
  });
  return out;
}

Tensor argmax_rows(const Tensor& x) {
  if (x.dim() != 2 || x.size(1) == 0) throw Error("argmax_rows: expected [rows, cols >= 1], got " + x.str());
  const Tensor xv = x.contiguous();
  const Device dev = backend::device_of("argmax_rows", {xv});
  Tensor index = Tensor::empty({x.size(0)}, DType::i64, dev);
  MAPET_BACKEND_CALL(dev, argmax_rows, xv.data<float>(), index.data<int64_t>(), x.size(0), x.size(1));
  return index;
}

}  // namespace mapet::ops
