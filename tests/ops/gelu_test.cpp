// Exact (erf) GELU (engine/ops/gelu.cpp, kernels/cpu/gelu.cpp) against
// x * Phi(x) in float64, including the tails where the erf approximation matters.
#include "engine/ops/gelu.h"

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<double> gelu_ref(const std::vector<std::vector<double>>& in) {
  std::vector<double> y(in[0].size());
  for (size_t i = 0; i < y.size(); ++i) y[i] = 0.5 * in[0][i] * (1.0 + std::erf(in[0][i] / std::sqrt(2.0)));
  return y;
}

TEST(Gelu, MatchesReferenceAndFiniteDifferences) {
  uint64_t s = test::fresh_seed();
  test::check_op([](const std::vector<Var>& v) { return ops::gelu(v[0]); }, gelu_ref, {test::randn({13, 7}, s, 2.0f)},
                 1e-5, 1e-6, 1e-4, 1e-5);
}

TEST(Gelu, WideRangeForward) {
  std::vector<float> xs;
  for (float x = -12.0f; x <= 12.0f; x += 0.0137f) xs.push_back(x);
  Tensor x = Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())});
  Var y = ops::gelu(Var(x));
  EXPECT_TRUE(test::all_close(y.value(), gelu_ref({test::to_double(x)}), 1e-5, 1e-6));
}

// gelu(x + b) with the bias gradient summed in the backward's pass: against the
// formula (central differences for x and b), over more rows than one reduction
// chunk and a width off every vector size.
TEST(BiasGelu, MatchesReferenceAndFiniteDifferences) {
  uint64_t s = test::fresh_seed();
  test::check_op([](const std::vector<Var>& v) { return ops::bias_gelu(v[0], v[1]); },
                 [](const std::vector<std::vector<double>>& in) {
                   const size_t cols = in[1].size();
                   std::vector<double> x = in[0];
                   for (size_t i = 0; i < x.size(); ++i) x[i] += in[1][i % cols];
                   return gelu_ref({x});
                 },
                 {test::randn({3, 61, 19}, s, 2.0f), test::randn({19}, s + 1)}, 1e-5, 1e-6, 1e-4, 1e-4);
}

TEST(BiasGelu, EqualsGeluOfTheSumAndNamesABadBias) {
  uint64_t s = test::fresh_seed();
  Tensor x = test::randn({130, 37}, s, 2.0f), b = test::randn({37}, s + 1), r = test::randn({130, 37}, s + 2);
  Var xf(x.clone(), true), bf(b.clone(), true), xp(x.clone(), true), bp(b.clone(), true);
  Var fused = ops::bias_gelu(xf, bf);
  autograd::backward(ops::sum(ops::mul(fused, Var(r))));  // a backward takes the whole tape
  Var plain = ops::gelu(ops::add(xp, bp));
  autograd::backward(ops::sum(ops::mul(plain, Var(r))));
  // The vector loops split differently (rows here, flat blocks there), so the
  // erf polynomial may be contracted differently: equal to float rounding.
  EXPECT_TRUE(test::all_close(fused.value(), test::to_double(plain.value()), 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(xf.grad(), test::to_double(xp.grad()), 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(bf.grad(), test::to_double(bp.grad()), 1e-5, 1e-5));
  EXPECT_THROW(ops::bias_gelu(Var(x), Var(test::randn({36}, s))), Error);
}

}  // namespace
}  // namespace mapet
