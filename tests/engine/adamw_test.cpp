// AdamW (engine/optim/adamw.h) against a scalar float64 transcription of
// torch.optim.AdamW, with timm's no-weight-decay rules.
#include "engine/optim/adamw.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace mapet {
namespace {

struct RefAdamW {  // torch.optim.AdamW, one element, in double
  double p, m = 0, v = 0;
  void step(double g, int64_t t, double lr, double b1, double b2, double eps, double wd) {
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    p -= lr / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + eps);
  }
};

TEST(AdamW, MatchesTorchFormulaWithDecayRules) {
  const std::vector<std::pair<std::string, Shape>> shapes{
      {"blocks.0.mlp.fc1.weight", {7, 3}},  // decayed
      {"blocks.0.mlp.fc1.bias", {7}},       // 1-D: no decay
      {"pos_embed", {1, 5, 3}},             // no decay by name
      {"cls_token", {1, 1, 3}},
      {"blocks.0.ls1.gamma", {3}},
      {"head.gamma", {2, 3}},  // no decay by its name ending in gamma
  };
  const bool decays[] = {true, false, false, false, false, false};
  optim::AdamWConfig cfg;
  cfg.beta1 = 0.8f, cfg.beta2 = 0.95f, cfg.eps = 1e-6f, cfg.weight_decay = 0.3f;
  std::vector<nn::NamedParam> params;
  std::vector<std::vector<RefAdamW>> ref;
  uint64_t seed = test::fresh_seed();
  for (const auto& [name, shape] : shapes) {
    params.push_back({name, Var(test::randn(shape, seed++), true)});
    ref.emplace_back();
    for (float x : params.back().var.value().to_vector()) ref.back().push_back(RefAdamW{x});
  }
  optim::AdamW opt(params, cfg);
  for (size_t i = 0; i < shapes.size(); ++i)
    EXPECT_EQ(opt.slots()[i].weight_decay, decays[i] ? 0.3f : 0.0f) << shapes[i].first;

  Var frozen(Tensor::full({2}, 1.0f), true);  // never gets a gradient: untouched
  for (int64_t t = 1; t <= 6; ++t) {
    const double lr = 0.01 * t;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = test::randn(params[i].var.shape(), seed++, t == 3 ? 1e-4f : 1.0f);  // a step with tiny gradients
      params[i].var.set_grad(g);
      std::vector<float> gv = g.to_vector();
      for (size_t k = 0; k < gv.size(); ++k)
        ref[i][k].step(gv[k], t, static_cast<float>(lr), cfg.beta1, cfg.beta2, cfg.eps,
                       decays[i] ? cfg.weight_decay : 0.0);
    }
    opt.step(static_cast<float>(lr));
  }
  EXPECT_EQ(opt.steps(), 6);
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<double> want;
    for (const RefAdamW& r : ref[i]) want.push_back(r.p);
    EXPECT_TRUE(test::all_close(params[i].var.value(), want, 1e-5, 1e-6)) << shapes[i].first;
  }
  opt.zero_grad();
  for (const auto& p : params) EXPECT_FALSE(p.var.grad().defined());
}

TEST(AdamW, SkipsParametersWithoutGradientAndUnknownLrScaleIsAnError) {
  Var w(Tensor::full({2, 2}, 1.0f), true), b(Tensor::full({2}, 1.0f), true);
  optim::AdamW opt({{"w", w}, {"b", b}}, optim::AdamWConfig{});
  w.set_grad(Tensor::full({2, 2}, 1.0f));
  opt.step(0.1f);
  EXPECT_NE(w.value().at({0, 0}), 1.0f);
  EXPECT_EQ(b.value().to_vector(), (std::vector<float>{1, 1}));
  EXPECT_THROW(opt.set_lr_scale("nope", 0.5f), Error);
}

}  // namespace
}  // namespace mapet
