#include "engine/ops/layernorm.h"

#include "engine/backend.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cuda/layernorm.cuh"

namespace mapet::ops {

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
  const int64_t dim = x.size(-1);
  if (gamma.value().numel() != dim || beta.value().numel() != dim)
    throw Error("layer_norm: weight " + gamma.value().str() + " / bias " + beta.value().str() + " do not match input " +
                x.value().str());
  Tensor xv = x.value().contiguous();
  const int64_t rows = xv.numel() / dim;
  Tensor gv = gamma.value().contiguous(), bv = beta.value().contiguous();
  const Device dev = backend::device_of("layer_norm", {xv, gv, bv});
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev), mean = Tensor::empty({rows}, DType::f32, dev),
         rstd = Tensor::empty({rows}, DType::f32, dev);
  MAPET_BACKEND_CALL(dev, layernorm_forward, xv.data<float>(), gv.data<float>(), bv.data<float>(), y.data<float>(),
                     mean.data<float>(), rstd.data<float>(), rows, dim, eps);
  Var out = autograd::make_output(y, {&x, &gamma, &beta});
  autograd::record(out, [x, gamma, beta, xv, gv, mean, rstd, rows, dim, dev](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev), dg = Tensor::empty(gamma.shape(), DType::f32, dev),
           db = Tensor::empty(beta.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, layernorm_backward, dy.data<float>(), xv.data<float>(), gv.data<float>(),
                       mean.data<float>(), rstd.data<float>(), dx.data<float>(), dg.data<float>(), db.data<float>(),
                       rows, dim);
    autograd::accumulate(x, dx);
    autograd::accumulate(gamma, dg);
    autograd::accumulate(beta, db);
  });
  return out;
}

}  // namespace mapet::ops
