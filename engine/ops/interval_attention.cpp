#include "engine/ops/interval_attention.h"

#include "engine/ops/attention.h"

namespace mapet::ops {

IntervalMask mapet_interval_mask(common::Objective obj, int64_t T, int64_t L) {
  if (L < 1 || L > T) throw Error("least_number L=" + std::to_string(L) + " must be in [1, T=" + std::to_string(T) + "]");
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

// Reference implementation: the dense mask through the plain attention op.
// The fused flash-style kernel replaces this (same signature, same results).
Var interval_attention(const Var& q, const Var& k, const Var& v, const IntervalMask& mask, float scale) {
  if (q.dim() != 4 || static_cast<int64_t>(mask.real_end.size()) != q.size(2))
    throw Error("interval_attention: mask has " + std::to_string(mask.real_end.size()) + " rows, queries are " +
                q.value().str());
  return scaled_dot_product_attention(q, k, v, dense_mask(mask, k.size(2)), scale);
}

}  // namespace mapet::ops
