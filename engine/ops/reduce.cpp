#include "engine/ops/reduce.h"

#include "engine/backend.h"

namespace mapet::ops {

Var mean(const Var& x, int64_t dim) {
  if (dim < 0) dim += x.dim();
  if (dim < 0 || dim >= x.dim()) throw Error("mean: dim out of range for " + x.value().str());
  Tensor xv = x.value().contiguous();
  backend::host_loop_only("mean", xv.device());
  int64_t outer = 1, inner = 1, n = x.size(dim);
  for (int64_t i = 0; i < dim; ++i) outer *= x.size(i);
  for (int64_t i = dim + 1; i < x.dim(); ++i) inner *= x.size(i);
  Shape s = x.shape();
  s.erase(s.begin() + dim);
  Tensor y = Tensor::empty(s);
  const float* xp = xv.data<float>();
  float* yp = y.data<float>();
  const float inv = 1.0f / static_cast<float>(n);
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    float* yr = yp + o * inner;
    for (int64_t j = 0; j < inner; ++j) yr[j] = 0.0f;
    for (int64_t k = 0; k < n; ++k) {
      const float* xr = xp + (o * n + k) * inner;
      for (int64_t j = 0; j < inner; ++j) yr[j] += xr[j];
    }
    for (int64_t j = 0; j < inner; ++j) yr[j] *= inv;
  }
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, outer, inner, n, inv](const Tensor& gv) {
    Tensor g = gv.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    const float* gp = g.data<float>();
    float* dp = dx.data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) dp[(o * n + k) * inner + j] = gp[o * inner + j] * inv;
    autograd::accumulate(x, dx);
  });
  return out;
}

Var sum(const Var& x) {
  Tensor xv = x.value().contiguous();
  backend::host_loop_only("sum", xv.device());
  double s = 0.0;
  const float* p = xv.data<float>();
  for (int64_t i = 0; i < xv.numel(); ++i) s += p[i];
  Var out = autograd::make_output(Tensor::full({1}, static_cast<float>(s)), {&x});
  autograd::record(out, [x](const Tensor& g) { autograd::accumulate(x, Tensor::full(x.shape(), g.item())); });
  return out;
}

}  // namespace mapet::ops
