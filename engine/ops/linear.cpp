#include "engine/ops/linear.h"

#include "engine/backend.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mapet::ops {

namespace {

// The bf16 copy of a contiguous f32 tensor (same shape).
Tensor bf16_copy(Device dev, const Tensor& t) {
  Tensor r = Tensor::empty(t.shape(), DType::bf16, dev);
  MAPET_BACKEND_CALL(dev, to_bf16, t.data<float>(), static_cast<uint16_t*>(r.raw_data()), t.numel());
  return r;
}

const uint16_t* bf16_data(const Tensor& t) { return static_cast<const uint16_t*>(t.raw_data()); }

// Under --amp (gemm_uses_bf16) the three GEMMs of a linear layer round
// their inputs to bf16. Converting x and W once in the forward, and the output
// gradient once in the backward, gives the same numbers as three GEMMs that
// each convert both inputs, with half the conversions. The price: the bf16 x
// is kept for the weight gradient, besides the f32 x that its Var holds.
// The backward runs in bf16 because the forward did.
Var linear_bf16(Device dev, const Var& x, const Var& weight, const Var& bias, const Tensor& xv, const Tensor& wv,
                const Tensor& bv, int64_t rows, int64_t in, int64_t out_f) {
  Tensor x16 = bf16_copy(dev, xv), w16 = bf16_copy(dev, wv);
  Shape ys = x.shape();
  ys.back() = out_f;
  Tensor y = Tensor::empty(ys, DType::f32, dev);
  MAPET_BACKEND_CALL(dev, gemm_bf16, false, true, rows, out_f, in, bf16_data(x16), bf16_data(w16), y.data<float>(),
                     0.0f, bv.defined() ? bv.data<float>() : nullptr);
  Var out = autograd::make_output(y, {&x, &weight, &bias});
  if (!weight.requires_grad()) x16 = Tensor();  // only dW needs it
  autograd::record(out, [x, weight, bias, x16, w16, rows, in, out_f, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    Tensor g16 = Tensor::empty(g.shape(), DType::bf16, dev);
    uint16_t* g16p = static_cast<uint16_t*>(g16.raw_data());
    if (bias.requires_grad()) {  // db = column sums of g, in the same pass that rounds g
      Tensor db = Tensor::empty(bias.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, sum_rows_to_bf16, g.data<float>(), db.data<float>(), rows, out_f, g16p);
      autograd::accumulate(bias, db);
    } else if (x.requires_grad() || weight.requires_grad()) {
      MAPET_BACKEND_CALL(dev, to_bf16, g.data<float>(), g16p, g.numel());
    }
    if (x.requires_grad()) {  // dx = g W
      Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, gemm_bf16, false, false, rows, in, out_f, g16p, bf16_data(w16), dx.data<float>());
      autograd::accumulate(x, dx);
    }
    if (weight.requires_grad()) {  // dW = g^T x
      Tensor dw = Tensor::empty(weight.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, gemm_bf16, true, false, out_f, in, rows, g16p, bf16_data(x16), dw.data<float>());
      autograd::accumulate(weight, dw);
    }
  });
  return out;
}

}  // namespace

Var linear(const Var& x, const Var& weight, const Var& bias) {
  const int64_t in = weight.size(1), out_f = weight.size(0);
  if (x.size(-1) != in)
    throw Error("linear: input " + x.value().str() + " does not match weight " + weight.value().str());
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out_f))
    throw Error("linear: bias " + bias.value().str() + " does not match weight " + weight.value().str());
  Tensor xv = x.value().contiguous(), wv = weight.value().contiguous();
  Tensor bv = bias.defined() ? bias.value().contiguous() : Tensor();
  const int64_t rows = xv.numel() / in;
  const Device dev = backend::device_of("linear", {xv, wv, bv});
  if (MAPET_BACKEND_CALL(dev, gemm_uses_bf16)) return linear_bf16(dev, x, weight, bias, xv, wv, bv, rows, in, out_f);
  Shape ys = x.shape();
  ys.back() = out_f;
  Tensor y = Tensor::empty(ys, DType::f32, dev);
  MAPET_BACKEND_CALL(dev, gemm, false, true, rows, out_f, in, xv.data<float>(), wv.data<float>(), y.data<float>(), 0.0f,
                     bv.defined() ? bv.data<float>() : nullptr);
  Var out = autograd::make_output(y, {&x, &weight, &bias});
  autograd::record(out, [x, weight, bias, xv, wv, rows, in, out_f, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    if (x.requires_grad()) {  // dx = g W
      Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, gemm, false, false, rows, in, out_f, g.data<float>(), wv.data<float>(), dx.data<float>());
      autograd::accumulate(x, dx);
    }
    if (weight.requires_grad()) {  // dW = g^T x
      Tensor dw = Tensor::empty(weight.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, gemm, true, false, out_f, in, rows, g.data<float>(), xv.data<float>(), dw.data<float>());
      autograd::accumulate(weight, dw);
    }
    if (bias.requires_grad()) {
      Tensor db = Tensor::empty(bias.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, sum_rows, g.data<float>(), db.data<float>(), rows, out_f);
      autograd::accumulate(bias, db);
    }
  });
  return out;
}

namespace {

// C[i] = op(A[i]) op(B[i]) for the batch; B shared when b_batch == 1.
void batched(Device dev, bool ta, bool tb, int64_t batch, int64_t m, int64_t n, int64_t k, const float* a,
             const float* b, float* c, bool b_shared) {
  common::GemmShape s;
  s.trans_a = ta;
  s.trans_b = tb;
  s.m = m, s.n = n, s.k = k;
  s.lda = ta ? m : k;
  s.ldb = tb ? k : n;
  s.ldc = n;
  s.batch = batch;
  s.stride_a = m * k;
  s.stride_b = b_shared ? 0 : k * n;
  s.stride_c = m * n;
  MAPET_BACKEND_CALL(dev, gemm, s, a, b, c);
}

}  // namespace

Var matmul(const Var& a, const Var& b) {
  if (a.dim() < 2 || b.dim() < 2) throw Error("matmul: needs matrices, got " + a.value().str() + " and " + b.value().str());
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  if (b.size(-2) != k) throw Error("matmul: " + a.value().str() + " x " + b.value().str() + ": inner sizes differ");
  const bool b_shared = b.dim() == 2 && a.dim() > 2;
  if (!b_shared && (a.dim() != b.dim() || !std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin())))
    throw Error("matmul: batch dims of " + a.value().str() + " and " + b.value().str() + " differ");
  const int64_t batch = a.value().numel() / (m * k);
  Tensor av = a.value().contiguous(), bv = b.value().contiguous();
  const Device dev = backend::device_of("matmul", {av, bv});
  Shape ys = a.shape();
  ys.back() = n;
  Tensor y = Tensor::empty(ys, DType::f32, dev);
  batched(dev, false, false, batch, m, n, k, av.data<float>(), bv.data<float>(), y.data<float>(), b_shared);
  Var out = autograd::make_output(y, {&a, &b});
  autograd::record(out, [a, b, av, bv, batch, m, n, k, b_shared, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    if (a.requires_grad()) {  // dA = G B^T
      Tensor da = Tensor::empty(a.shape(), DType::f32, dev);
      batched(dev, false, true, batch, m, k, n, g.data<float>(), bv.data<float>(), da.data<float>(), b_shared);
      autograd::accumulate(a, da);
    }
    if (b.requires_grad()) {  // dB = A^T G (summed over the batch when B is shared)
      Tensor db = Tensor::empty(b.shape(), DType::f32, dev);
      if (b_shared)
        MAPET_BACKEND_CALL(dev, gemm, true, false, k, n, batch * m, av.data<float>(), g.data<float>(),
                           db.data<float>());
      else
        batched(dev, true, false, batch, k, n, m, av.data<float>(), g.data<float>(), db.data<float>(), false);
      autograd::accumulate(b, db);
    }
  });
  return out;
}

}  // namespace mapet::ops
