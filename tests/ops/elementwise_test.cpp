// add, mul, scale (engine/ops/elementwise.cpp), with trailing broadcast of b and
// gradients for both inputs.
#include "engine/ops/elementwise.h"

#include "tests/test_util.h"

namespace mapet {
namespace {

// y = f(a, b repeated over a's leading elements)
template <class F>
std::vector<double> binary_ref(const std::vector<std::vector<double>>& in, F f) {
  const auto &a = in[0], &b = in[1];
  std::vector<double> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = f(a[i], b[i % b.size()]);
  return y;
}

const std::vector<std::pair<Shape, Shape>> kShapes = {
    {{3, 5, 7}, {3, 5, 7}},  // same shape
    {{3, 5, 7}, {7}},        // [B, T, D] + [D] (a bias)
    {{3, 5, 7}, {1, 5, 7}},  // [B, T, D] + [1, T, D] (pos_embed)
};

TEST(Add, SameShapeAndTrailingBroadcast) {
  for (const auto& [sa, sb] : kShapes) {
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("b " + shape_str(sb) + " seed=" + std::to_string(s));
    test::check_op([](const std::vector<Var>& v) { return ops::add(v[0], v[1]); },
                   [](const auto& x) { return binary_ref(x, [](double a, double b) { return a + b; }); },
                   {test::randn(sa, s), test::randn(sb, s + 1)}, 1e-6, 1e-6, 1e-5, 1e-5);
  }
}

TEST(Mul, SameShapeAndTrailingBroadcast) {
  for (const auto& [sa, sb] : kShapes) {
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("b " + shape_str(sb) + " seed=" + std::to_string(s));
    test::check_op([](const std::vector<Var>& v) { return ops::mul(v[0], v[1]); },
                   [](const auto& x) { return binary_ref(x, [](double a, double b) { return a * b; }); },
                   {test::randn(sa, s), test::randn(sb, s + 1)}, 1e-6, 1e-6, 1e-5, 1e-5);
  }
}

TEST(Mul, BroadcastGradientOverManyRows) {  // more rows than one reduction chunk
  uint64_t s = test::fresh_seed();
  test::check_op([](const std::vector<Var>& v) { return ops::mul(v[0], v[1]); },
                 [](const auto& x) { return binary_ref(x, [](double a, double b) { return a * b; }); },
                 {test::randn({2, 197, 3}, s), test::randn({3}, s + 1)}, 1e-6, 1e-6, 1e-4, 1e-4);
}

TEST(Scale, MatchesReference) {
  uint64_t s = test::fresh_seed();
  test::check_op([](const std::vector<Var>& v) { return ops::scale(v[0], -0.37f); },
                 [](const auto& x) {
                   std::vector<double> y = x[0];
                   for (double& v : y) v *= static_cast<double>(-0.37f);
                   return y;
                 },
                 {test::randn({13, 7}, s)}, 1e-6, 1e-7, 1e-5, 1e-5);
}

TEST(Elementwise, NonContiguousInputsAndBadShapes) {
  uint64_t s = test::fresh_seed();
  Tensor a = test::randn({7, 5}, s), b = test::randn({5, 7}, s + 1);
  Var y = ops::add(Var(a), Var(b.transpose(0, 1)));
  std::vector<double> want(35);
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = 0; j < 5; ++j) want[i * 5 + j] = static_cast<double>(a.at({i, j})) + b.at({j, i});
  EXPECT_TRUE(test::all_close(y.value(), want, 1e-6, 1e-6));
  EXPECT_THROW(ops::add(Var(Tensor::zeros({3, 5, 7})), Var(Tensor::zeros({5}))), Error);
  EXPECT_THROW(ops::mul(Var(Tensor::zeros({3, 5, 7})), Var(Tensor::zeros({2, 5, 7}))), Error);
  EXPECT_TRUE(ops::is_trailing_broadcast({3, 5, 7}, {1, 1, 7}));
  EXPECT_FALSE(ops::is_trailing_broadcast({5, 7}, {1, 3, 5, 7}));
}

}  // namespace
}  // namespace mapet
