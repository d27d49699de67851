// scaled_residual (engine/ops/residual.cpp): x + drop_path(gamma * y) in one op,
// against the float64 formula with central-difference gradients, and against
// the unfused composition of add, drop_path and mul with the same generator.
#include "engine/ops/residual.h"

#include <omp.h>

#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

TEST(ScaledResidual, MatchesTheFormulaAndItsGradients) {
  const Shape shape{3, 7, 19};  // a channel count off every vector width
  uint64_t s = test::fresh_seed();
  SCOPED_TRACE("seed=" + std::to_string(s));
  test::check_op([](const std::vector<Var>& v) { return ops::scaled_residual(v[0], v[1], v[2], 0.0f, nullptr); },
                 [](const std::vector<std::vector<double>>& in) {
                   const std::vector<double>&x = in[0], &y = in[1], &gamma = in[2];
                   std::vector<double> out(x.size());
                   for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] + gamma[i % gamma.size()] * y[i];
                   return out;
                 },
                 {test::randn(shape, s), test::randn(shape, s + 1), test::randn({19}, s + 2)}, 1e-6, 1e-6, 1e-4,
                 1e-4);
  // Without layer scale: x + y.
  test::check_op([](const std::vector<Var>& v) { return ops::scaled_residual(v[0], v[1], Var(), 0.0f, nullptr); },
                 [](const std::vector<std::vector<double>>& in) {
                   std::vector<double> out(in[0].size());
                   for (size_t i = 0; i < out.size(); ++i) out[i] = in[0][i] + in[1][i];
                   return out;
                 },
                 {test::randn(shape, s + 3), test::randn(shape, s + 4)}, 1e-6, 1e-6, 1e-4, 1e-4);
}

struct Outcome {
  std::vector<float> out, dx, dy, dgamma;
  uint64_t rng_offset;
};

// Runs f(x, y, gamma, gen) from a fresh generator and backpropagates sum(out * r).
Outcome run(const std::function<Var(const Var&, const Var&, const Var&, Generator&)>& f, const Tensor& x,
        const Tensor& y, const Tensor& gamma, const Tensor& r, uint64_t seed) {
  Var xv(x.clone(), true), yv(y.clone(), true), gv = gamma.defined() ? Var(gamma.clone(), true) : Var();
  Generator gen(seed, 5);
  Var out = f(xv, yv, gv, gen);
  autograd::backward(ops::sum(ops::mul(out, Var(r))));
  return {out.value().to_vector(), xv.grad().to_vector(), yv.grad().to_vector(),
          gv.defined() ? gv.grad().to_vector() : std::vector<float>{}, gen.offset()};
}

TEST(ScaledResidual, EqualsAddDropPathMulWithTheSameGenerator) {
  // 301 samples x 70 tokens: the gamma gradient spans many reduction chunks.
  const int64_t B = 301, T = 70, D = 21;
  const float p = 0.3f;
  uint64_t s = test::fresh_seed();
  SCOPED_TRACE("seed=" + std::to_string(s));
  Tensor x = test::randn({B, T, D}, s), y = test::randn({B, T, D}, s + 1), r = test::randn({B, T, D}, s + 2);
  for (bool with_gamma : {true, false}) {
    Tensor gamma = with_gamma ? test::randn({D}, s + 3) : Tensor();
    Outcome fused = run([&](const Var& a, const Var& b, const Var& g,
                        Generator& gen) { return ops::scaled_residual(a, b, g, p, &gen); },
                    x, y, gamma, r, s + 4);
    Outcome plain = run([&](const Var& a, const Var& b, const Var& g, Generator& gen) {
      return ops::add(a, ops::drop_path(g.defined() ? ops::mul(b, g) : b, p, true, gen));
    }, x, y, gamma, r, s + 4);
    EXPECT_EQ(fused.rng_offset, plain.rng_offset) << "both must draw one number per sample";
    auto close = [](const std::vector<float>& got, const std::vector<float>& want, double tol) {
      return test::all_close(got, std::vector<double>(want.begin(), want.end()), tol, tol);
    };
    EXPECT_TRUE(close(fused.out, plain.out, 1e-6));
    EXPECT_EQ(fused.dx, plain.dx);
    EXPECT_TRUE(close(fused.dy, plain.dy, 1e-6));
    if (with_gamma) EXPECT_TRUE(close(fused.dgamma, plain.dgamma, 1e-4));
    // Some samples dropped, some kept: the mask matters in this test.
    int64_t dropped = 0;
    for (int64_t b = 0; b < B; ++b) dropped += fused.dy[b * T * D] == 0.0f && fused.dy[b * T * D + 1] == 0.0f;
    EXPECT_GT(dropped, B / 10);
    EXPECT_LT(dropped, B / 2);
  }
}

TEST(ScaledResidual, SameBitsForOneAndTwoThreads) {
  const int64_t B = 9, T = 131, D = 37;
  uint64_t s = test::fresh_seed();
  Tensor x = test::randn({B, T, D}, s), y = test::randn({B, T, D}, s + 1), r = test::randn({B, T, D}, s + 2);
  Tensor gamma = test::randn({D}, s + 3);
  auto op = [](const Var& a, const Var& b, const Var& g, Generator& gen) {
    return ops::scaled_residual(a, b, g, 0.2f, &gen);
  };
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  Outcome one = run(op, x, y, gamma, r, s);
  omp_set_num_threads(2);
  Outcome two = run(op, x, y, gamma, r, s);
  omp_set_num_threads(before);
  EXPECT_EQ(one.out, two.out);
  EXPECT_EQ(one.dy, two.dy);
  EXPECT_EQ(one.dgamma, two.dgamma);
}

TEST(ScaledResidual, BadInputsAreNamed) {
  Var x(test::randn({2, 3, 4}, 1)), y(test::randn({2, 3, 5}, 2)), gamma(test::randn({3}, 3));
  try {
    ops::scaled_residual(x, y, Var(), 0.0f, nullptr);
    FAIL() << "shape mismatch accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("differ in shape"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::scaled_residual(x, x, gamma, 0.0f, nullptr), Error);  // gamma must be [4]
  EXPECT_THROW(ops::scaled_residual(x, x, Var(), 0.1f, nullptr), Error);  // drop path without a generator
  Generator g(1);
  EXPECT_THROW(ops::scaled_residual(x, x, Var(), 1.0f, &g), Error);
}

}  // namespace
}  // namespace mapet
