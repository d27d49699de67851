#include "engine/ops/attention.h"

#include <cmath>

#include "engine/backend.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/softmax.cuh"

namespace mapet::ops {

namespace {

// A [B, H, T, d] tensor whose last stride is 1, as per-sample GEMM operands.
struct HeadMatrices {
  Tensor t;
  const float* ptr(int64_t b) const { return t.data<float>() + b * t.strides()[0]; }
  float* mut(int64_t b) const { return t.data<float>() + b * t.strides()[0]; }
  int64_t head_stride() const { return t.strides()[1]; }
  int64_t ld() const { return t.strides()[2]; }
};

HeadMatrices heads(const Tensor& t) {
  return HeadMatrices{t.strides()[3] == 1 && t.strides()[2] >= t.size(3) ? t : t.contiguous()};
}

// For each sample b: C_b[h] = alpha * op(A_b[h]) op(B_b[h]), C contiguous [B, H, m, n].
void per_sample(Device dev, bool ta, bool tb, int64_t B, int64_t H, int64_t m, int64_t n, int64_t kd,
                const HeadMatrices& a, const HeadMatrices& b, float* c, float alpha) {
  common::GemmShape s;
  s.trans_a = ta, s.trans_b = tb;
  s.m = m, s.n = n, s.k = kd;
  s.lda = a.ld(), s.ldb = b.ld(), s.ldc = n;
  s.batch = H;
  s.stride_a = a.head_stride(), s.stride_b = b.head_stride(), s.stride_c = m * n;
  for (int64_t bi = 0; bi < B; ++bi)
    MAPET_BACKEND_CALL(dev, gemm, s, a.ptr(bi), b.ptr(bi), c + bi * H * m * n, alpha);
}

}  // namespace

Var scaled_dot_product_attention(const Var& q, const Var& k, const Var& v, const Tensor& mask, float scale) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.shape() != v.shape() || q.size(0) != k.size(0) ||
      q.size(1) != k.size(1) || q.size(3) != k.size(3))
    throw Error("attention: q " + q.value().str() + ", k " + k.value().str() + ", v " + v.value().str() +
                " must be [B, H, T, d] with matching B, H, d");
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), Tk = k.size(2), d = q.size(3);
  if (scale < 0) scale = 1.0f / std::sqrt(static_cast<float>(d));
  Tensor m;
  int64_t mB = 1, mH = 1;
  if (mask.defined()) {
    m = mask.dtype() == DType::u8 ? mask.contiguous() : mask.to(DType::u8);
    mB = m.size(0), mH = m.size(1);
    if (m.dim() != 4 || (mB != 1 && mB != B) || (mH != 1 && mH != H) || m.size(2) != Tq || m.size(3) != Tk)
      throw Error("attention: mask " + m.str() + " does not fit scores [" + std::to_string(B) + ", " +
                  std::to_string(H) + ", " + std::to_string(Tq) + ", " + std::to_string(Tk) + "]");
  }
  HeadMatrices qh = heads(q.value()), kh = heads(k.value()), vh = heads(v.value());
  const Device dev = backend::device_of("attention", {qh.t, kh.t, vh.t, m});
  Tensor probs = Tensor::empty({B, H, Tq, Tk});
  per_sample(dev, false, true, B, H, Tq, Tk, d, qh, kh, probs.data<float>(), scale);
  MAPET_BACKEND_CALL(dev, masked_softmax_inplace, probs.data<float>(), m.defined() ? m.data<uint8_t>() : nullptr, B, H,
                     Tq, Tk, mB, mH);
  Tensor y = Tensor::empty({B, H, Tq, d});
  HeadMatrices ph{probs};
  per_sample(dev, false, false, B, H, Tq, d, Tk, ph, vh, y.data<float>(), 1.0f);

  Var out = autograd::make_output(y, {&q, &k, &v});
  autograd::record(out, [q, k, v, qh, kh, vh, ph, B, H, Tq, Tk, d, scale, dev](const Tensor& g) {
    HeadMatrices gh = heads(g);
    if (v.requires_grad()) {  // dV = P^T dO
      Tensor dv = Tensor::empty({B, H, Tk, d});
      per_sample(dev, true, false, B, H, Tk, d, Tq, ph, gh, dv.data<float>(), 1.0f);
      autograd::accumulate(v, dv);
    }
    if (!q.requires_grad() && !k.requires_grad()) return;
    // dP = dO V^T, then dS = P * (dP - rowsum(dP * P)) (the softmax backward) in place.
    Tensor ds = Tensor::empty({B, H, Tq, Tk});
    per_sample(dev, false, true, B, H, Tq, Tk, d, gh, vh, ds.data<float>(), 1.0f);
    MAPET_BACKEND_CALL(dev, softmax_backward, ph.t.data<float>(), ds.data<float>(), ds.data<float>(), B * H * Tq, Tk,
                       1.0f);
    HeadMatrices dsh{ds};
    if (q.requires_grad()) {  // dQ = scale dS K
      Tensor dq = Tensor::empty({B, H, Tq, d});
      per_sample(dev, false, false, B, H, Tq, d, Tk, dsh, kh, dq.data<float>(), scale);
      autograd::accumulate(q, dq);
    }
    if (k.requires_grad()) {  // dK = scale dS^T Q
      Tensor dk = Tensor::empty({B, H, Tk, d});
      per_sample(dev, true, false, B, H, Tk, d, Tq, dsh, qh, dk.data<float>(), scale);
      autograd::accumulate(k, dk);
    }
  });
  return out;
}

}  // namespace mapet::ops
