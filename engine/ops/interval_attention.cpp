#include "engine/ops/interval_attention.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include "engine/backend.h"
#include "engine/ops/attention.h"
#include "kernels/cpu/interval_attention.h"
#include "kernels/cuda/interval_attention.cuh"

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

common::HeadsView heads_view(const Tensor& t) {
  return common::HeadsView{t.data<float>(), t.strides()[0], t.strides()[1], t.strides()[2]};
}
common::OutHeadsView out_view(Tensor& t) {
  return common::OutHeadsView{t.data<float>(), t.strides()[0], t.strides()[1], t.strides()[2]};
}

// A fresh [B, T, H, d] buffer seen as [B, H, T, d]: the kernel writes heads
// merged, so that the merge (or, for gradients, the split) that follows is a view.
Tensor merged_heads(int64_t B, int64_t H, int64_t T, int64_t d, Device dev) {
  return Tensor::empty({B, T, H, d}, DType::f32, dev).transpose(1, 2);
}

// Heads of a packed [B, T, n H d] tensor (H d = D per part) as a [B, n H, T, d] view: part p's head h is p H + h.
Tensor split_packed(const Tensor& t, int64_t H, int64_t parts) {
  const int64_t B = t.size(0), T = t.size(1), d = t.size(2) / (parts * H);
  return t.view({B, T, parts * H, d}).transpose(1, 2);
}

using ShapeFn = std::function<common::IntervalAttentionShape()>;

// The per-row intervals where the kernel reads them: host memory for the CPU,
// device memory for a CUDA kernel (its real_end / mask_start are device pointers).
Tensor interval_array(const std::vector<int32_t>& v, Device dev) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, DType::i32);
  std::copy(v.begin(), v.end(), t.data<int32_t>());
  return t.to(dev);
}

ShapeFn kernel_shape(const IntervalMask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t d, float scale,
                     Device dev) {
  // The intervals travel with the backward closure; the kernel shape points into them.
  const Tensor real_end = interval_array(mask.real_end, dev), mask_start = interval_array(mask.mask_start, dev);
  const int64_t num_real = mask.num_real;
  return [real_end, mask_start, num_real, B, H, Tq, Tk, d, scale] {
    return common::IntervalAttentionShape{B,  H, Tq, Tk, d, num_real, real_end.data<int32_t>(),
                                          mask_start.data<int32_t>(), scale};
  };
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
  Tensor qt = unit_stride_heads(q.value()), kt = unit_stride_heads(k.value()), vt = unit_stride_heads(v.value());
  const Device dev = backend::device_of("interval_attention", {qt, kt, vt});
  const ShapeFn shape = kernel_shape(mask, B, H, Tq, Tk, d, scale, dev);
  Tensor y = merged_heads(B, H, Tq, d, dev);
  Tensor lse = Tensor::empty({B, H, Tq}, DType::f32, dev);
  MAPET_BACKEND_CALL(dev, interval_attention_forward, shape(), heads_view(qt), heads_view(kt), heads_view(vt),
                     out_view(y), lse.data<float>());

  Var out = autograd::make_output(y, {&q, &k, &v});
  autograd::record(out, [q, k, v, qt, kt, vt, y, lse, shape, dev](const Tensor& g) {
    const int64_t B = qt.size(0), H = qt.size(1), Tq = qt.size(2), Tk = kt.size(2), d = qt.size(3);
    Tensor dq = merged_heads(B, H, Tq, d, dev), dk = merged_heads(B, H, Tk, d, dev), dv = merged_heads(B, H, Tk, d, dev);
    Tensor gu = unit_stride_heads(g);
    MAPET_BACKEND_CALL(dev, interval_attention_backward, shape(), heads_view(qt), heads_view(kt), heads_view(vt),
                       heads_view(y), lse.data<float>(), heads_view(gu), out_view(dq), out_view(dk), out_view(dv));
    autograd::accumulate(q, dq);
    autograd::accumulate(k, dk);
    autograd::accumulate(v, dv);
  });
  return out;
}

Var interval_attention_packed(const Var& q, const Var& kv, int64_t heads, const IntervalMask& mask, float scale) {
  if (q.dim() != 3 || kv.dim() != 3 || q.size(0) != kv.size(0) || kv.size(2) != 2 * q.size(2) || heads < 1 ||
      q.size(2) % heads != 0)
    throw Error("interval_attention_packed: q " + q.value().str() + " and kv " + kv.value().str() +
                " must be [B, Tq, D] and [B, Tk, 2D] with D a multiple of heads (" + std::to_string(heads) + ")");
  const int64_t B = q.size(0), Tq = q.size(1), Tk = kv.size(1), D = q.size(2), H = heads, d = D / H;
  Tensor qv = q.value().contiguous(), kvv = kv.value().contiguous();
  const Device dev = backend::device_of("interval_attention_packed", {qv, kvv});
  // Views of the packed tensors: q as [B, H, Tq, d], k and v as heads [0, H) and [H, 2H) of kv.
  Tensor qh = split_packed(qv, H, 1), kvh = split_packed(kvv, H, 2);
  Tensor kh = kvh.slice(1, 0, H), vh = kvh.slice(1, H, 2 * H);
  check_args("interval_attention_packed", Var(qh), Var(kh), Var(vh), mask);
  if (scale < 0) scale = 1.0f / std::sqrt(static_cast<float>(d));
  const ShapeFn shape = kernel_shape(mask, B, H, Tq, Tk, d, scale, dev);
  Tensor y = Tensor::empty({B, Tq, D}, DType::f32, dev), lse = Tensor::empty({B, H, Tq}, DType::f32, dev);
  Tensor yh = split_packed(y, H, 1);
  MAPET_BACKEND_CALL(dev, interval_attention_forward, shape(), heads_view(qh), heads_view(kh), heads_view(vh),
                     out_view(yh), lse.data<float>());

  Var out = autograd::make_output(y, {&q, &kv});
  autograd::record(out, [q, kv, qh, kh, vh, yh, lse, shape, H, dev](const Tensor& g) {
    Tensor gh = split_packed(g.contiguous(), H, 1);
    Tensor dq = Tensor::empty(q.shape(), DType::f32, dev), dkv = Tensor::empty(kv.shape(), DType::f32, dev);
    Tensor dqh = split_packed(dq, H, 1), dkvh = split_packed(dkv, H, 2);
    Tensor dkh = dkvh.slice(1, 0, H), dvh = dkvh.slice(1, H, 2 * H);
    MAPET_BACKEND_CALL(dev, interval_attention_backward, shape(), heads_view(qh), heads_view(kh), heads_view(vh),
                       heads_view(yh), lse.data<float>(), heads_view(gh), out_view(dqh), out_view(dkh), out_view(dvh));
    autograd::accumulate(q, dq);
    autograd::accumulate(kv, dkv);
  });
  return out;
}

}  // namespace mapet::ops
