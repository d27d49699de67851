// mean over one dimension and sum of everything (engine/ops/reduce.cpp).
#include "engine/ops/reduce.h"

#include <numeric>

#include "tests/test_util.h"

namespace mapet {
namespace {

// Mean over the middle of [outer, n, inner].
std::vector<double> mean_ref(const std::vector<double>& x, int64_t outer, int64_t n, int64_t inner) {
  std::vector<double> y(static_cast<size_t>(outer * inner), 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < inner; ++j) y[o * inner + j] += x[(o * n + k) * inner + j] / n;
  return y;
}

TEST(Mean, EveryDimension) {
  const Shape s{3, 7, 5};
  for (int64_t dim : {0, 1, 2, -1}) {
    int64_t d = dim < 0 ? dim + 3 : dim;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < d; ++i) outer *= s[i];
    for (int64_t i = d + 1; i < 3; ++i) inner *= s[i];
    uint64_t seed = test::fresh_seed();
    SCOPED_TRACE("dim=" + std::to_string(dim) + " seed=" + std::to_string(seed));
    test::check_op([dim](const std::vector<Var>& v) { return ops::mean(v[0], dim); },
                   [=](const auto& x) { return mean_ref(x[0], outer, s[d], inner); }, {test::randn(s, seed)}, 1e-6,
                   1e-6, 1e-5, 1e-6);
  }
  EXPECT_EQ(ops::mean(Var(Tensor::zeros(s)), 1).shape(), (Shape{3, 5}));
  EXPECT_THROW(ops::mean(Var(Tensor::zeros(s)), 3), Error);
}

TEST(Sum, AllElements) {
  test::check_op([](const std::vector<Var>& v) { return ops::sum(v[0]); },
                 [](const auto& x) { return std::vector<double>{std::accumulate(x[0].begin(), x[0].end(), 0.0)}; },
                 {test::randn({13, 67}, test::fresh_seed())}, 1e-6, 1e-5, 1e-6, 1e-6);
}

}  // namespace
}  // namespace mapet
