#include "engine/ops/residual.h"

#include "engine/backend.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/residual.h"
#include "kernels/cuda/dropout.cuh"
#include "kernels/cuda/residual.cuh"

namespace mapet::ops {

Var scaled_residual(const Var& x, const Var& y, const Var& gamma, float drop_path, Generator* gen) {
  if (x.shape() != y.shape())
    throw Error("scaled_residual: x " + x.value().str() + " and y " + y.value().str() + " differ in shape");
  const int64_t rows = x.size(0), n = x.value().numel(), dim = x.size(x.dim() - 1), row_len = rows ? n / rows : 0;
  if (gamma.defined() && (gamma.value().dim() != 1 || gamma.size(0) != dim))
    throw Error("scaled_residual: gamma must be [" + std::to_string(dim) + "], got " + gamma.value().str());
  if (drop_path >= 1.0f) throw Error("scaled_residual: drop_path must be below 1, got " + std::to_string(drop_path));
  Tensor xv = x.value().contiguous(), yv = y.value().contiguous();
  Tensor gv = gamma.defined() ? gamma.value().contiguous() : Tensor();
  const Device dev = backend::device_of("scaled_residual", {xv, yv, gv});
  Tensor row_scale;
  if (drop_path > 0.0f) {
    if (!gen) throw Error("scaled_residual: drop_path needs a random generator");
    row_scale = Tensor::empty({rows}, DType::f32, dev);
    MAPET_BACKEND_CALL(dev, drop_path_row_scales, row_scale.data<float>(), rows, drop_path, gen->seed(),
                       gen->take(static_cast<uint64_t>(rows)));
  }
  const float* gp = gv.defined() ? gv.data<float>() : nullptr;
  const float* sp = row_scale.defined() ? row_scale.data<float>() : nullptr;
  Tensor out = Tensor::empty(x.shape(), DType::f32, dev);
  MAPET_BACKEND_CALL(dev, scaled_residual_forward, xv.data<float>(), yv.data<float>(), gp, sp, out.data<float>(), rows,
                     row_len, dim);

  Var result = autograd::make_output(out, {&x, &y, &gamma});
  autograd::record(result, [x, y, gamma, yv, gv, row_scale, rows, row_len, dim, dev](const Tensor& g) {
    autograd::accumulate(x, g);
    const bool want_dy = y.requires_grad(), want_dgamma = gamma.defined() && gamma.requires_grad();
    if (!want_dy && !want_dgamma) return;
    Tensor dout = g.contiguous();
    Tensor dy = Tensor::empty(y.shape(), DType::f32, dev), dgamma = want_dgamma ? Tensor::empty({dim}, DType::f32, dev) : Tensor();
    MAPET_BACKEND_CALL(dev, scaled_residual_backward, dout.data<float>(), yv.data<float>(),
                       gv.defined() ? gv.data<float>() : nullptr,
                       row_scale.defined() ? row_scale.data<float>() : nullptr, dy.data<float>(),
                       want_dgamma ? dgamma.data<float>() : nullptr, rows, row_len, dim);
    if (want_dy) autograd::accumulate(y, dy);
    if (want_dgamma) autograd::accumulate(gamma, dgamma);
  });
  return result;
}

}  // namespace mapet::ops
