// CosineSchedule and clip_grad_norm (engine/optim/schedule.h), as timm's train.py uses them.
#include "engine/optim/schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace mapet {
namespace {

TEST(CosineSchedule, WarmupThenCosineToMinimum) {
  optim::CosineSchedule s;
  s.base_lr = 1e-3f, s.min_lr = 1e-5f, s.warmup_lr = 1e-6f, s.warmup_steps = 7, s.total_steps = 107;
  EXPECT_FLOAT_EQ(s.lr_at(0), 1e-6f);
  EXPECT_FLOAT_EQ(s.lr_at(3), 1e-6f + (1e-3f - 1e-6f) * 3 / 7);
  EXPECT_FLOAT_EQ(s.lr_at(7), 1e-3f);
  EXPECT_FLOAT_EQ(s.lr_at(57), (1e-3f + 1e-5f) / 2);  // half way through the cosine
  EXPECT_FLOAT_EQ(s.lr_at(107), 1e-5f);
  EXPECT_FLOAT_EQ(s.lr_at(500), 1e-5f);
  for (int64_t t = 8; t <= 107; ++t) EXPECT_LE(s.lr_at(t), s.lr_at(t - 1)) << t;
}

nn::NamedParam param(const char* name, std::vector<float> grad) {
  Var v(Tensor::zeros({static_cast<int64_t>(grad.size())}), true);
  v.set_grad(Tensor::from_vector(grad, {static_cast<int64_t>(grad.size())}));
  return {name, v};
}

TEST(ClipGradNorm, ScalesToMaxNormAndReturnsTheNormBefore) {
  std::vector<nn::NamedParam> ps{param("a", {3, 0}), param("b", {0, 4}), {"no_grad", Var(Tensor::zeros({2}), true)}};
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm(ps, 10.0), 5.0);  // below max: unchanged
  EXPECT_EQ(ps[0].var.grad().to_vector(), (std::vector<float>{3, 0}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm(ps, 0.0), 5.0);  // max <= 0: no clipping
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm(ps, 1.0), 5.0);
  EXPECT_NEAR(ps[0].var.grad().at({0}), 0.6, 1e-6);
  EXPECT_NEAR(ps[1].var.grad().at({1}), 0.8, 1e-6);
  EXPECT_NEAR(optim::clip_grad_norm(ps, 0.0), 1.0, 1e-6);
  EXPECT_FALSE(ps[2].var.grad().defined());
}

TEST(ClipGradNorm, SharedGradientStorageIsScaledOnce) {
  Var a(Tensor::zeros({2}), true), b(Tensor::zeros({2}), true);
  autograd::backward(ops::sum(ops::mul(ops::add(a, b), Var(Tensor::from_vector(std::vector<float>{3.0f, 4.0f}, {2})))));
  ASSERT_TRUE(a.grad().shares_storage(b.grad()));
  std::vector<nn::NamedParam> ps{{"a", a}, {"b", b}};
  EXPECT_NEAR(optim::clip_grad_norm(ps, 1.0), std::sqrt(50.0), 1e-5);
  EXPECT_NEAR(a.grad().at({1}), 4 / std::sqrt(50.0), 1e-6);
  EXPECT_NEAR(b.grad().at({1}), 4 / std::sqrt(50.0), 1e-6);
}

}  // namespace
}  // namespace mapet
