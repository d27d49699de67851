// scaled_dot_product_attention (engine/ops/attention.cpp) against a float64
// reference: no mask, u8 masks broadcast over batch and/or heads, fully masked
// rows, and q/k/v given as strided views.
#include "engine/ops/attention.h"

#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

struct Dims {
  int64_t B, H, Tq, Tk, d;
};

// mask: empty, or [mB, mH, Tq, Tk] with 0 = blocked. q, k, v row-major [B, H, T, d].
std::vector<double> attention_ref(const std::vector<double>& q, const std::vector<double>& k,
                                  const std::vector<double>& v, const Dims& s, double scale,
                                  const std::vector<uint8_t>& mask, int64_t mB, int64_t mH) {
  std::vector<double> out(static_cast<size_t>(s.B * s.H * s.Tq * s.d), 0.0), p(s.Tk);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t i = 0; i < s.Tq; ++i) {
        const double* qi = &q[((b * s.H + h) * s.Tq + i) * s.d];
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < s.Tk; ++j) {
          bool ok = mask.empty() || mask[(((b % mB) * mH + h % mH) * s.Tq + i) * s.Tk + j];
          double dot = 0;
          for (int64_t c = 0; c < s.d; ++c) dot += qi[c] * k[((b * s.H + h) * s.Tk + j) * s.d + c];
          p[j] = ok ? scale * dot : -INFINITY;
          m = std::max(m, p[j]);
        }
        if (m == -INFINITY) continue;  // attends to nothing: zeros
        for (int64_t j = 0; j < s.Tk; ++j) sum += p[j] = std::exp(p[j] - m);
        double* o = &out[((b * s.H + h) * s.Tq + i) * s.d];
        for (int64_t j = 0; j < s.Tk; ++j)
          for (int64_t c = 0; c < s.d; ++c) o[c] += p[j] / sum * v[((b * s.H + h) * s.Tk + j) * s.d + c];
      }
  return out;
}

Tensor make_mask(const std::vector<uint8_t>& m, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::u8);
  std::copy(m.begin(), m.end(), t.data<uint8_t>());
  return t;
}

// Random mask with some rows fully blocked.
std::vector<uint8_t> random_mask(int64_t rows, int64_t Tk, uint64_t seed) {
  Tensor u = test::randu({rows, Tk}, seed, 0.0f, 1.0f);
  std::vector<uint8_t> m(static_cast<size_t>(rows * Tk));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < Tk; ++j) m[r * Tk + j] = r % 4 != 1 && u.at({r, j}) < 0.6f;
  return m;
}

TEST(Attention, NoMaskAndCustomScale) {
  const Dims s{2, 3, 5, 7, 4};
  for (float scale : {-1.0f, 0.3f}) {
    uint64_t seed = test::fresh_seed();
    SCOPED_TRACE("scale=" + std::to_string(scale) + " seed=" + std::to_string(seed));
    double sc = scale < 0 ? 1.0 / std::sqrt(static_cast<double>(s.d)) : scale;
    test::check_op(
        [scale](const std::vector<Var>& v) {
          return ops::scaled_dot_product_attention(v[0], v[1], v[2], Tensor(), scale);
        },
        [&](const auto& x) { return attention_ref(x[0], x[1], x[2], s, sc, {}, 1, 1); },
        {test::randn({s.B, s.H, s.Tq, s.d}, seed), test::randn({s.B, s.H, s.Tk, s.d}, seed + 1),
         test::randn({s.B, s.H, s.Tk, s.d}, seed + 2)},
        1e-5, 1e-5, 1e-4, 1e-5);
  }
}

TEST(Attention, MaskBroadcastOverBatchAndHeadsWithFullyMaskedRows) {
  const Dims s{2, 3, 5, 7, 4};
  for (auto [mB, mH] : {std::pair<int64_t, int64_t>{2, 3}, {1, 3}, {2, 1}, {1, 1}}) {
    uint64_t seed = test::fresh_seed();
    SCOPED_TRACE("mask [" + std::to_string(mB) + ", " + std::to_string(mH) + ", Tq, Tk] seed=" + std::to_string(seed));
    std::vector<uint8_t> m = random_mask(mB * mH * s.Tq, s.Tk, seed + 3);
    Tensor mask = make_mask(m, {mB, mH, s.Tq, s.Tk});
    std::vector<Tensor> in{test::randn({s.B, s.H, s.Tq, s.d}, seed), test::randn({s.B, s.H, s.Tk, s.d}, seed + 1),
                           test::randn({s.B, s.H, s.Tk, s.d}, seed + 2)};
    test::check_op([&](const std::vector<Var>& v) { return ops::scaled_dot_product_attention(v[0], v[1], v[2], mask); },
                   [&](const auto& x) { return attention_ref(x[0], x[1], x[2], s, 0.5, m, mB, mH); }, in, 1e-5, 1e-5,
                   1e-4, 1e-5);
  }
}

TEST(Attention, FullyMaskedRowGivesZerosAndFiniteGradients) {
  Tensor mask = make_mask({1, 1, 0, 0, /**/ 0, 0, 0, 0, /**/ 0, 1, 1, 1}, {1, 1, 3, 4});
  uint64_t seed = test::fresh_seed();
  Var q(test::randn({1, 1, 3, 2}, seed), true), k(test::randn({1, 1, 4, 2}, seed + 1), true),
      v(test::randn({1, 1, 4, 2}, seed + 2), true);
  Var y = ops::scaled_dot_product_attention(q, k, v, mask);
  EXPECT_EQ(y.value().at({0, 0, 1, 0}), 0.0f);
  EXPECT_EQ(y.value().at({0, 0, 1, 1}), 0.0f);
  autograd::backward(ops::sum(y));
  for (const Var* x : {&q, &k, &v})
    for (float g : x->grad().to_vector()) EXPECT_TRUE(std::isfinite(g));
  EXPECT_EQ(q.grad().at({0, 0, 1, 0}), 0.0f);
  EXPECT_EQ(q.grad().at({0, 0, 1, 1}), 0.0f);
}

// q, k, v as the transposes [B, H, T, d] of [B, T, H, d] tensors (how the ViT splits heads).
TEST(Attention, StridedViewsOfTokenMajorTensors) {
  const Dims s{2, 3, 6, 6, 5};
  auto heads_ref = [&](const std::vector<double>& x) {  // [B, T, H, d] -> [B, H, T, d]
    std::vector<double> y(x.size());
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t t = 0; t < s.Tq; ++t)
        for (int64_t h = 0; h < s.H; ++h)
          for (int64_t c = 0; c < s.d; ++c)
            y[((b * s.H + h) * s.Tq + t) * s.d + c] = x[((b * s.Tq + t) * s.H + h) * s.d + c];
    return y;
  };
  uint64_t seed = test::fresh_seed();
  std::vector<Tensor> in{test::randn({s.B, s.Tq, s.H, s.d}, seed), test::randn({s.B, s.Tk, s.H, s.d}, seed + 1),
                         test::randn({s.B, s.Tk, s.H, s.d}, seed + 2)};
  test::check_op(
      [](const std::vector<Var>& v) {
        return ops::scaled_dot_product_attention(ops::transpose(v[0], 1, 2), ops::transpose(v[1], 1, 2),
                                                 ops::transpose(v[2], 1, 2));
      },
      [&](const auto& x) {
        return attention_ref(heads_ref(x[0]), heads_ref(x[1]), heads_ref(x[2]), s, 1.0 / std::sqrt(5.0), {}, 1, 1);
      },
      in, 1e-5, 1e-5, 1e-4, 1e-5);
}

TEST(Attention, LargerForwardAndBadMask) {
  const Dims s{2, 3, 197, 67, 13};
  uint64_t seed = test::fresh_seed();
  Tensor q = test::randn({s.B, s.H, s.Tq, s.d}, seed), k = test::randn({s.B, s.H, s.Tk, s.d}, seed + 1),
         v = test::randn({s.B, s.H, s.Tk, s.d}, seed + 2);
  std::vector<uint8_t> m = random_mask(s.H * s.Tq, s.Tk, seed + 3);
  Var y = ops::scaled_dot_product_attention(Var(q), Var(k), Var(v), make_mask(m, {1, s.H, s.Tq, s.Tk}));
  EXPECT_TRUE(test::all_close(
      y.value(),
      attention_ref(test::to_double(q), test::to_double(k), test::to_double(v), s, 1.0 / std::sqrt(13.0), m, 1, s.H),
      1e-5, 1e-5));
  EXPECT_THROW(ops::scaled_dot_product_attention(Var(q), Var(k), Var(v), make_mask(m, {s.H, 1, s.Tq, s.Tk})), Error);
}

}  // namespace
}  // namespace mapet
