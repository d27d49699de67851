#include "engine/ops/elementwise.h"

#include <algorithm>

#include "engine/backend.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mapet::ops {

bool is_trailing_broadcast(const Shape& a, const Shape& b) {
  size_t i = 0;
  while (i < b.size() && b[i] == 1) ++i;
  size_t nb = b.size() - i;
  if (b.size() > a.size()) return false;
  return std::equal(b.begin() + i, b.end(), a.end() - nb);
}

namespace {

enum class Kind { same, broadcast };

Kind classify(const char* op, const Var& a, const Var& b) {
  if (a.shape() == b.shape()) return Kind::same;
  if (is_trailing_broadcast(a.shape(), b.shape()) && a.value().numel() % b.value().numel() == 0)
    return Kind::broadcast;
  throw Error(std::string(op) + ": shapes " + a.value().str() + " and " + b.value().str() + " do not broadcast");
}

// Sums a gradient of a's shape down to b's shape (b broadcast over leading dims).
Tensor reduce_to(const Tensor& g, const Shape& b_shape) {
  const Device dev = backend::device_of("add", {g});
  Tensor out = Tensor::empty(b_shape, DType::f32, dev);
  int64_t nb = out.numel();
  MAPET_BACKEND_CALL(dev, sum_rows, g.data<float>(), out.data<float>(), g.numel() / nb, nb);
  return out;
}

}  // namespace

Var add(const Var& a, const Var& b) {
  Kind k = classify("add", a, b);
  Tensor av = a.value().contiguous(), bv = b.value().contiguous();
  const Device dev = backend::device_of("add", {av, bv});
  Tensor y = Tensor::empty(a.shape(), DType::f32, dev);
  if (k == Kind::same)
    MAPET_BACKEND_CALL(dev, add, av.data<float>(), bv.data<float>(), y.data<float>(), y.numel());
  else
    MAPET_BACKEND_CALL(dev, add_broadcast, av.data<float>(), bv.data<float>(), y.data<float>(), y.numel(), bv.numel());
  Var out = autograd::make_output(y, {&a, &b});
  autograd::record(out, [a, b, k](const Tensor& g) {
    autograd::accumulate(a, g);
    if (b.requires_grad()) autograd::accumulate(b, k == Kind::same ? g : reduce_to(g.contiguous(), b.shape()));
  });
  return out;
}

Var mul(const Var& a, const Var& b) {
  Kind k = classify("mul", a, b);
  Tensor av = a.value().contiguous(), bv = b.value().contiguous();
  const Device dev = backend::device_of("mul", {av, bv});
  Tensor y = Tensor::empty(a.shape(), DType::f32, dev);
  int64_t n = y.numel(), nb = bv.numel();
  if (k == Kind::same)
    MAPET_BACKEND_CALL(dev, mul, av.data<float>(), bv.data<float>(), y.data<float>(), n);
  else
    MAPET_BACKEND_CALL(dev, mul_broadcast, av.data<float>(), bv.data<float>(), y.data<float>(), n, nb);
  Var out = autograd::make_output(y, {&a, &b});
  autograd::record(out, [a, b, av, bv, k, n, nb, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    if (a.requires_grad()) {
      Tensor da = Tensor::empty(a.shape(), DType::f32, dev);
      if (k == Kind::same)
        MAPET_BACKEND_CALL(dev, mul, g.data<float>(), bv.data<float>(), da.data<float>(), n);
      else
        MAPET_BACKEND_CALL(dev, mul_broadcast, g.data<float>(), bv.data<float>(), da.data<float>(), n, nb);
      autograd::accumulate(a, da);
    }
    if (b.requires_grad()) {
      Tensor db = Tensor::empty(b.shape(), DType::f32, dev);
      if (k == Kind::same)
        MAPET_BACKEND_CALL(dev, mul, g.data<float>(), av.data<float>(), db.data<float>(), n);
      else
        MAPET_BACKEND_CALL(dev, mul_broadcast_grad_b, g.data<float>(), av.data<float>(), db.data<float>(), n, nb);
      autograd::accumulate(b, db);
    }
  });
  return out;
}

Var scale(const Var& a, float alpha) {
  Tensor av = a.value().contiguous();
  const Device dev = backend::device_of("scale", {av});
  Tensor y = Tensor::empty(a.shape(), DType::f32, dev);
  MAPET_BACKEND_CALL(dev, scale, av.data<float>(), alpha, y.data<float>(), y.numel());
  Var out = autograd::make_output(y, {&a});
  autograd::record(out, [a, alpha, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    Tensor da = Tensor::empty(a.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, scale, g.data<float>(), alpha, da.data<float>(), da.numel());
    autograd::accumulate(a, da);
  });
  return out;
}

void add_inplace(Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) throw Error("add_inplace: " + b.str() + " into " + a.str());
  Tensor bc = b.contiguous();
  const Device dev = backend::device_of("add_inplace", {a, bc});
  MAPET_BACKEND_CALL(dev, add_inplace, a.data<float>(), bc.data<float>(), a.numel());
}

}  // namespace mapet::ops
