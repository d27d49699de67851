// dropout and drop_path (engine/ops/dropout.cpp): reproducible masks, the kept
// fraction, a backward that uses the forward's mask, identity in eval mode.
#include "engine/ops/dropout.h"

#include <omp.h>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

// Runs op on x, backpropagates sum(y * r), returns {y, dx}.
std::pair<std::vector<float>, std::vector<float>> run(const std::function<Var(const Var&)>& op, const Tensor& x,
                                                      const Tensor& r) {
  Var xv(x.clone(), true);
  Var y = op(xv);
  Var loss = ops::sum(ops::mul(y, Var(r)));
  autograd::backward(loss);
  return {y.value().to_vector(), xv.grad().to_vector()};
}

TEST(Dropout, SameSeedSameMaskKeptFractionAndBackwardMask) {
  const int64_t n = 13 * 1009;
  const float p = 0.3f;
  uint64_t s = test::fresh_seed();
  Tensor x = test::randu({13, 1009}, s, 0.5f, 1.5f), r = test::randn({13, 1009}, s + 1);
  auto op = [&](const Var& v) {
    Generator g(s + 2, 12);
    return ops::dropout(v, p, true, g);
  };
  auto [y1, dx1] = run(op, x, r);
  auto [y2, dx2] = run(op, x, r);
  EXPECT_EQ(y1, y2);
  EXPECT_EQ(dx1, dx2);
  int64_t kept = 0;
  std::vector<float> xs = x.to_vector(), rs = r.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    bool k = y1[i] != 0.0f;  // x > 0, so a zero output means dropped
    kept += k;
    ASSERT_FLOAT_EQ(y1[i], k ? xs[i] / (1 - p) : 0.0f) << i;
    ASSERT_FLOAT_EQ(dx1[i], k ? rs[i] / (1 - p) : 0.0f) << i;
  }
  // 1-p = 0.7 of 13117 draws: standard deviation 0.004, so 0.015 is about 4 sigma.
  EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 0.015);

  Generator other(s + 3, 12);
  EXPECT_NE(ops::dropout(Var(x), p, true, other).value().to_vector(), y1) << "another seed, the same mask";
}

TEST(Dropout, MaskDoesNotDependOnThreadCount) {
  Tensor x = Tensor::full({100003}, 1.0f);
  const int before = omp_get_max_threads();
  std::vector<float> y[2];
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    Generator g(42);
    y[t - 1] = ops::dropout(Var(x), 0.5f, true, g).value().to_vector();
  }
  omp_set_num_threads(before);
  EXPECT_EQ(y[0], y[1]);
}

TEST(Dropout, IdentityWhenNotTrainingOrZeroP) {
  Generator g(1);
  Var x(test::randn({7, 5}, test::fresh_seed()), true);
  EXPECT_EQ(ops::dropout(x, 0.5f, false, g).impl(), x.impl());
  EXPECT_EQ(ops::dropout(x, 0.0f, true, g).impl(), x.impl());
  EXPECT_EQ(ops::drop_path(x, 0.5f, false, g).impl(), x.impl());
  EXPECT_EQ(g.offset(), 0u) << "eval mode must not consume random numbers";
  EXPECT_THROW(ops::dropout(x, 1.0f, true, g), Error);
}

TEST(DropPath, WholeSamplesDroppedSameSeedSameMask) {
  const int64_t B = 997, T = 3, D = 5;
  const float p = 0.25f;
  uint64_t s = test::fresh_seed();
  Tensor x = test::randu({B, T, D}, s, 0.5f, 1.5f), r = test::randn({B, T, D}, s + 1);
  auto op = [&](const Var& v) {
    Generator g(s + 2);
    return ops::drop_path(v, p, true, g);
  };
  auto [y1, dx1] = run(op, x, r);
  auto [y2, dx2] = run(op, x, r);
  EXPECT_EQ(y1, y2);
  EXPECT_EQ(dx1, dx2);
  std::vector<float> xs = x.to_vector(), rs = r.to_vector();
  int64_t kept = 0;
  for (int64_t b = 0; b < B; ++b) {
    bool k = y1[b * T * D] != 0.0f;
    kept += k;
    for (int64_t i = b * T * D; i < (b + 1) * T * D; ++i) {
      ASSERT_FLOAT_EQ(y1[i], k ? xs[i] / (1 - p) : 0.0f) << "sample " << b;
      ASSERT_FLOAT_EQ(dx1[i], k ? rs[i] / (1 - p) : 0.0f) << "sample " << b;
    }
  }
  // 0.75 of 997 samples: standard deviation 0.014.
  EXPECT_NEAR(static_cast<double>(kept) / B, 1.0 - p, 0.055);
}

}  // namespace
}  // namespace mapet
