// Row softmax with a scale (engine/ops/softmax.cpp, kernels/cpu/softmax.cpp).
#include "engine/ops/softmax.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<double> softmax_ref(const std::vector<double>& x, int64_t cols, double scale) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / cols; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < cols; ++j) m = std::max(m, scale * x[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j) s += std::exp(scale * x[r * cols + j] - m);
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = std::exp(scale * x[r * cols + j] - m) / s;
  }
  return y;
}

TEST(Softmax, WithScaleMatchesReferenceAndFiniteDifferences) {
  for (auto [cols, scale] : {std::pair<int64_t, float>{13, 1.0f}, {7, 0.37f}, {67, -2.0f}}) {
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("cols=" + std::to_string(cols) + " scale=" + std::to_string(scale) + " seed=" + std::to_string(s));
    test::check_op([scale](const std::vector<Var>& v) { return ops::softmax(v[0], scale); },
                   [=](const auto& x) { return softmax_ref(x[0], cols, scale); }, {test::randn({2, 3, cols}, s, 2.0f)},
                   1e-5, 1e-7, 1e-4, 1e-5);
  }
}

TEST(Softmax, LargeLogitsStayFinite) {
  uint64_t s = test::fresh_seed();
  Tensor x = test::randn({5, 197}, s, 300.0f);
  Var y = ops::softmax(Var(x), 1.0f);
  EXPECT_TRUE(test::all_close(y.value(), softmax_ref(test::to_double(x), 197, 1.0), 1e-5, 1e-7));
}

}  // namespace
}  // namespace mapet
