#include "engine/ops/interval_attention.h"

#include <cmath>
#include <memory>

#include "engine/ops/attention.h"
#include "kernels/cpu/interval_attention.h"

namespace mapet::ops {

IntervalMask mapet_interval_mask(common::Objective obj, int64_t T, int64_t L) {
  if (L < 1 || L > T)
    throw Error("least_number L=" + std::to_string(L) + " must be in [1, T=" + std::to_string(T) + "]");
  IntervalMask m;
  m.num_real = T;
  const int rows = common::mapet_query_rows(obj, static_cast<int>(T), static_cast<int>(L));
  for (int r = 0; r < rows; ++r) {
    common::IntervalRow iv = common::mapet_row_interval(obj, r, static_cast<int>(T), static_cast<int>(L));
    m.real_end.push_back(iv.real_end);
    m.mask_start.push_back(iv.mask_start);
  }
  return m;
}

Tensor dense_mask(const IntervalMask& m, int64_t num_keys) {
  const int64_t rows = static_cast<int64_t>(m.real_end.size());
  Tensor t = Tensor::zeros({1, 1, rows, num_keys}, DType::u8);
  uint8_t* p = t.data<uint8_t>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < num_keys; ++j)
      p[i * num_keys + j] = j < m.num_real ? j < m.real_end[i] : (j - m.num_real) >= m.mask_start[i];
  return t;
}

namespace {

void check_args(const char* what, const Var& q, const Var& k, const Var& v, const IntervalMask& mask) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.shape() != v.shape() || q.size(0) != k.size(0) ||
      q.size(1) != k.size(1) || q.size(3) != k.size(3))
    throw Error(std::string(what) + ": q " + q.value().str() + ", k " + k.value().str() + ", v " + v.value().str() +
                " must be [B, H, T, d] with matching B, H, d");
  if (static_cast<int64_t>(mask.real_end.size()) != q.size(2) || mask.mask_start.size() != mask.real_end.size())
    throw Error(std::string(what) + ": mask has " + std::to_string(mask.real_end.size()) + " rows, queries are " +
                q.value().str());
  if (mask.num_real < 0 || mask.num_real > k.size(2))
    throw Error(std::string(what) + ": mask has " + std::to_string(mask.num_real) + " real keys, keys are " +
                k.value().str());
}

// [B, H, T, d] with unit stride in d, as the kernel's view (a copy otherwise).
Tensor unit_stride_heads(const Tensor& t) { return t.strides()[3] == 1 ? t : t.contiguous(); }

cpu::HeadsView heads_view(const Tensor& t) {
  return cpu::HeadsView{t.data<float>(), t.strides()[0], t.strides()[1], t.strides()[2]};
}

}  // namespace

Var interval_attention_reference(const Var& q, const Var& k, const Var& v, const IntervalMask& mask, float scale) {
  check_args("interval_attention_reference", q, k, v, mask);
  return scaled_dot_product_attention(q, k, v, dense_mask(mask, k.size(2)), scale);
}

Var interval_attention(const Var& q, const Var& k, const Var& v, const IntervalMask& mask, float scale) {
  check_args("interval_attention", q, k, v, mask);
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), Tk = k.size(2), d = q.size(3);
  if (scale < 0) scale = 1.0f / std::sqrt(static_cast<float>(d));
  // The mask travels with the backward closure; the kernel shape points into it.
  auto m = std::make_shared<const IntervalMask>(mask);
  auto shape = [m, B, H, Tq, Tk, d, scale] {
    return cpu::IntervalAttentionShape{B, H, Tq, Tk, d, m->num_real, m->real_end.data(), m->mask_start.data(), scale};
  };
  Tensor qt = unit_stride_heads(q.value()), kt = unit_stride_heads(k.value()), vt = unit_stride_heads(v.value());
  Tensor y = Tensor::empty({B, H, Tq, d});
  Tensor lse = Tensor::empty({B, H, Tq});
  cpu::interval_attention_forward(shape(), heads_view(qt), heads_view(kt), heads_view(vt), y.data<float>(),
                                  lse.data<float>());

  Var out = autograd::make_output(y, {&q, &k, &v});
  autograd::record(out, [q, k, v, qt, kt, vt, y, lse, shape](const Tensor& g) {
    Tensor dq = Tensor::empty(qt.shape()), dk = Tensor::empty(kt.shape()), dv = Tensor::empty(vt.shape());
    Tensor gc = g.contiguous();
    cpu::interval_attention_backward(shape(), heads_view(qt), heads_view(kt), heads_view(vt), y.data<float>(),
                                     lse.data<float>(), gc.data<float>(), dq.data<float>(), dk.data<float>(),
                                     dv.data<float>());
    autograd::accumulate(q, dq);
    autograd::accumulate(k, dk);
    autograd::accumulate(v, dv);
  });
  return out;
}

}  // namespace mapet::ops
