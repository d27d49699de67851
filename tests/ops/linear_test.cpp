// linear and matmul (engine/ops/linear.cpp) against float64 references.
#include "engine/ops/linear.h"

#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/reduce.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

// y[r, o] = sum_i x[r, i] w[o, i] + b[o]
std::vector<double> linear_ref(const std::vector<std::vector<double>>& in, int64_t in_f, int64_t out_f) {
  const auto &x = in[0], &w = in[1];
  const int64_t rows = static_cast<int64_t>(x.size()) / in_f;
  std::vector<double> y(static_cast<size_t>(rows * out_f));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out_f; ++o) {
      double s = in.size() > 2 ? in[2][o] : 0.0;
      for (int64_t i = 0; i < in_f; ++i) s += x[r * in_f + i] * w[o * in_f + i];
      y[r * out_f + o] = s;
    }
  return y;
}

// c[b] = a[b] x (shared ? B : B[b]) for row-major [batch, m, k] x [k, n]
std::vector<double> matmul_ref(const std::vector<std::vector<double>>& in, int64_t batch, int64_t m, int64_t k,
                               int64_t n, bool shared) {
  const auto &a = in[0], &b = in[1];
  std::vector<double> c(static_cast<size_t>(batch * m * n), 0.0);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t kk = 0; kk < k; ++kk) s += a[(bi * m + i) * k + kk] * b[(shared ? 0 : bi * k * n) + kk * n + j];
        c[(bi * m + i) * n + j] = s;
      }
  return c;
}

TEST(Linear, ThreeDInputWithAndWithoutBias) {
  for (bool with_bias : {true, false}) {
    const int64_t B = 3, T = 5, in_f = 7, out_f = 13;
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("bias=" + std::to_string(with_bias) + " seed=" + std::to_string(s));
    std::vector<Tensor> in{test::randn({B, T, in_f}, s), test::randn({out_f, in_f}, s + 1)};
    if (with_bias) in.push_back(test::randn({out_f}, s + 2));
    test::check_op([with_bias](const std::vector<Var>& v) { return ops::linear(v[0], v[1], with_bias ? v[2] : Var()); },
                   [=](const auto& x) { return linear_ref(x, in_f, out_f); }, in, 1e-5, 1e-5, 1e-4, 1e-4);
  }
}

TEST(Linear, LargerForwardMatchesReference) {
  const int64_t rows = 197, in_f = 67, out_f = 131;
  uint64_t s = test::fresh_seed();
  Tensor x = test::randn({rows, in_f}, s), w = test::randn({out_f, in_f}, s + 1), b = test::randn({out_f}, s + 2);
  Var y = ops::linear(Var(x), Var(w), Var(b));
  EXPECT_TRUE(test::all_close(
      y.value(), linear_ref({test::to_double(x), test::to_double(w), test::to_double(b)}, in_f, out_f), 1e-5, 1e-4));
}

bool same_bits(const Tensor& got, const std::vector<float>& want) {
  std::vector<float> g = got.to_vector();
  return g.size() == want.size() && std::memcmp(g.data(), want.data(), g.size() * sizeof(float)) == 0;
}

// Under --amp, linear converts x, W and the output gradient to bf16 once and
// reuses them; the results must be bit for bit those of plain bf16 GEMMs that
// convert their f32 inputs on every call.
TEST(Linear, Bf16ReuseMatchesPerCallBf16GemmsBitForBit) {
  if (cpu::gemm_backend() != cpu::GemmBackend::onednn) GTEST_SKIP() << "bf16 reuse needs the oneDNN backend";
  const cpu::GemmPrecision before = cpu::gemm_precision();
  cpu::set_gemm_precision(cpu::GemmPrecision::bf16);
  for (bool with_bias : {true, false}) {
    const int64_t B = 3, T = 67, in_f = 70, out_f = 131, rows = B * T;
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("bias=" + std::to_string(with_bias) + " seed=" + std::to_string(s));
    Tensor x = test::randn({B, T, in_f}, s), w = test::randn({out_f, in_f}, s + 1), b = test::randn({out_f}, s + 2);
    Tensor g = test::randn({B, T, out_f}, s + 3);
    Var xv(x, true), wv(w, true), bv(b, true);
    Var y = ops::linear(xv, wv, with_bias ? bv : Var());
    autograd::backward(ops::sum(ops::mul(y, Var(g))));  // dL/dy = g exactly

    std::vector<float> y_ref(rows * out_f), dx_ref(rows * in_f), dw_ref(out_f * in_f), db_ref(out_f);
    cpu::gemm(false, true, rows, out_f, in_f, x.data<float>(), w.data<float>(), y_ref.data(), 0.0f,
              with_bias ? b.data<float>() : nullptr);
    cpu::gemm(false, false, rows, in_f, out_f, g.data<float>(), w.data<float>(), dx_ref.data());
    cpu::gemm(true, false, out_f, in_f, rows, g.data<float>(), x.data<float>(), dw_ref.data());
    cpu::sum_rows(g.data<float>(), db_ref.data(), rows, out_f);
    EXPECT_TRUE(same_bits(y.value(), y_ref));
    EXPECT_TRUE(same_bits(xv.grad(), dx_ref));
    EXPECT_TRUE(same_bits(wv.grad(), dw_ref));
    if (with_bias) EXPECT_TRUE(same_bits(bv.grad(), db_ref));
    // ...and it is bf16 at all: the forward is far from the f32 one.
    cpu::set_gemm_precision(cpu::GemmPrecision::f32);
    std::vector<float> y32(rows * out_f);
    cpu::gemm(false, true, rows, out_f, in_f, x.data<float>(), w.data<float>(), y32.data(), 0.0f,
              with_bias ? b.data<float>() : nullptr);
    EXPECT_FALSE(same_bits(y.value(), y32));
    cpu::set_gemm_precision(cpu::GemmPrecision::bf16);
  }
  cpu::set_gemm_precision(before);
}

TEST(Linear, RejectsMismatchedShapes) {
  Var x(Tensor::zeros({2, 7})), w(Tensor::zeros({3, 6})), b(Tensor::zeros({4}));
  EXPECT_THROW(ops::linear(x, w, Var()), Error);
  EXPECT_THROW(ops::linear(x, Var(Tensor::zeros({3, 7})), b), Error);
}

TEST(Matmul, BatchedAndSharedTwoDimensionalB) {
  const int64_t B = 2, H = 3, m = 5, k = 7, n = 6;
  for (bool shared : {false, true}) {
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("shared=" + std::to_string(shared) + " seed=" + std::to_string(s));
    Shape bs = shared ? Shape{k, n} : Shape{B, H, k, n};
    std::vector<Tensor> in{test::randn({B, H, m, k}, s), test::randn(bs, s + 1)};
    test::check_op([](const std::vector<Var>& v) { return ops::matmul(v[0], v[1]); },
                   [=](const auto& x) { return matmul_ref(x, B * H, m, k, n, shared); }, in, 1e-5, 1e-5, 1e-4, 1e-4);
  }
}

TEST(Matmul, LargerForwardAndBadShapes) {
  uint64_t s = test::fresh_seed();
  Tensor a = test::randn({3, 67, 29}, s), b = test::randn({3, 29, 131}, s + 1);
  Var c = ops::matmul(Var(a), Var(b));
  EXPECT_EQ(c.shape(), (Shape{3, 67, 131}));
  EXPECT_TRUE(test::all_close(c.value(), matmul_ref({test::to_double(a), test::to_double(b)}, 3, 67, 29, 131, false),
                              1e-5, 1e-4));
  EXPECT_THROW(ops::matmul(Var(a), Var(Tensor::zeros({3, 28, 5}))), Error);  // inner sizes
  EXPECT_THROW(ops::matmul(Var(a), Var(Tensor::zeros({2, 29, 5}))), Error);  // batch sizes
}

}  // namespace
}  // namespace mapet
