// Exact (erf) GELU (engine/ops/activation.cpp, kernels/cpu/gelu.cpp) against
// x * Phi(x) in float64, including the tails where the erf approximation matters.
#include "engine/ops/activation.h"
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

}  // namespace
}  // namespace mapet
