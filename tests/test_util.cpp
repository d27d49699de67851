#include "tests/test_util.h"

#include <sstream>

namespace mapet::test {

uint64_t fresh_seed() {
  static uint64_t counter = 0;
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  uint64_t h = 1469598103934665603ull;
  if (info)
    for (const char* p = info->name(); *p; ++p) h = (h ^ static_cast<uint8_t>(*p)) * 1099511628211ull;
  // MAPET_TEST_SEED varies the inputs between runs; unset, runs are repeatable.
  if (const char* s = std::getenv("MAPET_TEST_SEED")) h ^= std::strtoull(s, nullptr, 10) * 0x9E3779B97F4A7C15ull;
  return h + (counter++) * 0x9E3779B97F4A7C15ull;
}

::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& want, double rtol,
                                     double atol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs reference " << want.size();
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(static_cast<double>(got[i]) - want[i]) / (atol + rtol * std::abs(want[i]));
    if (!(err <= worst)) {  // catches NaN too
      worst = std::isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  if (worst <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << at << ": got " << got[at] << ", want " << want[at]
                                       << " (error " << worst << "x the tolerance rtol=" << rtol << " atol=" << atol
                                       << ")";
}

void check_op(const OpFn& op, const RefFn& ref, const std::vector<Tensor>& inputs, double fwd_rtol, double fwd_atol,
              double grad_rtol, double grad_atol, const std::vector<size_t>& no_grad, uint64_t seed) {
  std::vector<Var> vars;
  std::vector<std::vector<double>> xs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    bool req = std::find(no_grad.begin(), no_grad.end(), i) == no_grad.end();
    vars.emplace_back(inputs[i].clone(), req);
    xs.push_back(to_double(inputs[i]));
  }
  Var out = op(vars);
  std::vector<double> want = ref(xs);
  ASSERT_TRUE(all_close(out.value(), want, fwd_rtol, fwd_atol)) << "forward";

  // loss = sum(out * R): its gradient w.r.t. out is R.
  Tensor r = randn(out.shape(), seed * 7 + 3);
  std::vector<double> rd = to_double(r);
  Var rv(r, false);
  Var prod = autograd::make_output(Tensor::full({1}, 0.0f), {&out});
  autograd::record(prod, [out, r](const Tensor& g) {
    Tensor d = r.clone();
    float s = g.item();
    float* p = d.data<float>();
    for (int64_t i = 0; i < d.numel(); ++i) p[i] *= s;
    autograd::accumulate(out, d);
  });
  autograd::backward(prod);

  auto objective = [&](const std::vector<std::vector<double>>& x) {
    std::vector<double> y = ref(x);
    double s = 0.0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * rd[i];
    return s;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!vars[i].requires_grad()) continue;
    ASSERT_TRUE(vars[i].grad().defined()) << "input " << i << " got no gradient";
    std::vector<double> numeric(xs[i].size());
    for (size_t k = 0; k < xs[i].size(); ++k) {
      double h = 1e-6 * std::max(1.0, std::abs(xs[i][k]));
      auto xp = xs, xm = xs;
      xp[i][k] += h;
      xm[i][k] -= h;
      numeric[k] = (objective(xp) - objective(xm)) / (2 * h);
    }
    EXPECT_TRUE(all_close(vars[i].grad(), numeric, grad_rtol, grad_atol)) << "gradient of input " << i;
  }
}

}  // namespace mapet::test
