// The GEMM kernel (kernels/cpu/gemm.h) on both backends against a naive float64
// reference: every transpose combination, padded leading dimensions, batches
// with strides, alpha, beta, bias, k = 0, and the bf16 precision.
#include "kernels/cpu/gemm.h"

#include "tests/test_util.h"

namespace mapet {
namespace {

using cpu::GemmBackend;
using cpu::GemmPrecision;
using cpu::GemmShape;

// Restores the global backend and precision when a test ends, even on failure.
struct GemmStateGuard {
  GemmBackend backend = cpu::gemm_backend();
  GemmPrecision precision = cpu::gemm_precision();
  ~GemmStateGuard() {
    cpu::set_gemm_backend(backend);
    cpu::set_gemm_precision(precision);
  }
};

std::vector<float> random_vec(size_t n, uint64_t seed) {
  return test::randn({static_cast<int64_t>(n)}, seed).to_vector();
}

float bf16_round(float x) {
  float y;
  cpu::round_to_bf16(&x, &y, 1);
  return y;
}

struct Problem {
  GemmShape s;
  std::vector<float> a, b, c, bias;
  float alpha = 1.0f, beta = 0.0f;
  bool use_bias = false;
};

// A problem with padded leading dimensions and batch strides (padding is random garbage).
Problem make_problem(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t batch, bool shared_b, uint64_t seed) {
  Problem p;
  GemmShape& s = p.s;
  s.trans_a = ta, s.trans_b = tb, s.m = m, s.n = n, s.k = k, s.batch = batch;
  s.lda = (ta ? m : k) + 3;
  s.ldb = (tb ? k : n) + 2;
  s.ldc = n + 5;
  s.stride_a = (ta ? k : m) * s.lda + 7;
  s.stride_b = shared_b ? 0 : (tb ? n : k) * s.ldb + 1;
  s.stride_c = m * s.ldc + 11;
  p.a = random_vec(static_cast<size_t>(batch * s.stride_a), seed);
  p.b = random_vec(static_cast<size_t>(shared_b ? (tb ? n : k) * s.ldb : batch * s.stride_b), seed + 1);
  p.c = random_vec(static_cast<size_t>(batch * s.stride_c), seed + 2);
  p.bias = random_vec(static_cast<size_t>(n), seed + 3);
  return p;
}

// Expected C (the whole buffer, padding untouched) and, per element, the scale
// of the terms that were summed (|alpha| sum |a b| + |beta c| + |bias|) for the tolerance.
void reference(const Problem& p, bool round_bf16, std::vector<double>& want, std::vector<double>& mag) {
  const GemmShape& s = p.s;
  auto in = [&](float x) { return static_cast<double>(round_bf16 ? bf16_round(x) : x); };
  want.assign(p.c.begin(), p.c.end());
  mag.assign(p.c.size(), 0.0);
  for (int64_t bi = 0; bi < s.batch; ++bi)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double acc = 0, abs_acc = 0;
        for (int64_t kk = 0; kk < s.k; ++kk) {
          double av = in(p.a[bi * s.stride_a + (s.trans_a ? kk * s.lda + i : i * s.lda + kk)]);
          double bv = in(p.b[bi * s.stride_b + (s.trans_b ? j * s.ldb + kk : kk * s.ldb + j)]);
          acc += av * bv;
          abs_acc += std::abs(av * bv);
        }
        size_t at = static_cast<size_t>(bi * s.stride_c + i * s.ldc + j);
        double c0 = p.c[at];
        double bias = p.use_bias ? p.bias[j] : 0.0;
        want[at] = p.alpha * acc + (p.beta == 0.0f ? 0.0 : p.beta * c0) + bias;
        mag[at] = std::abs(p.alpha) * abs_acc + (p.beta == 0.0f ? 0.0 : std::abs(p.beta * c0)) + std::abs(bias) + 1e-30;
      }
}

::testing::AssertionResult run_and_check(Problem p, bool round_bf16, double rtol) {
  std::vector<double> want, mag;
  reference(p, round_bf16, want, mag);
  cpu::gemm(p.s, p.a.data(), p.b.data(), p.c.data(), p.alpha, p.beta, p.use_bias ? p.bias.data() : nullptr);
  for (size_t i = 0; i < want.size(); ++i) {
    double err = std::abs(p.c[i] - want[i]);
    bool untouched_nan = std::isnan(p.c[i]) && std::isnan(want[i]) && mag[i] == 0.0;  // padding
    if (!(err <= rtol * mag[i] || untouched_nan))
      return ::testing::AssertionFailure() << "C[" << i << "] = " << p.c[i] << ", want " << want[i] << " (error "
                                           << err / mag[i] << " of the term scale, tolerance " << rtol << ")";
  }
  return ::testing::AssertionSuccess();
}

std::string describe(GemmBackend be, const Problem& p) {
  const GemmShape& s = p.s;
  return std::string(be == GemmBackend::onednn ? "onednn" : "openblas") + " ta=" + std::to_string(s.trans_a) +
         " tb=" + std::to_string(s.trans_b) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
         " k=" + std::to_string(s.k) + " batch=" + std::to_string(s.batch) +
         " shared_b=" + std::to_string(s.stride_b == 0) + " alpha=" + std::to_string(p.alpha) +
         " beta=" + std::to_string(p.beta) + " bias=" + std::to_string(p.use_bias);
}

TEST(Gemm, AllTransposesStridesAlphaBetaBiasBothBackends) {
  GemmStateGuard guard;
  cpu::set_gemm_precision(GemmPrecision::f32);
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas}) {
    cpu::set_gemm_backend(be);
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [alpha, beta, bias] : {std::tuple{1.0f, 0.0f, false},
                                         {0.7f, 0.0f, true},
                                         {1.0f, 0.5f, true},
                                         {-1.3f, 1.0f, false},
                                         {1.0f, -0.25f, false}}) {
          Problem p = make_problem(ta, tb, 13, 67, 29, 3, false, test::fresh_seed());
          p.alpha = alpha, p.beta = beta, p.use_bias = bias;
          SCOPED_TRACE(describe(be, p));
          EXPECT_TRUE(run_and_check(p, false, 1e-5));
        }
  }
}

TEST(Gemm, SharedBAcrossBatchAndLargerSizes) {
  GemmStateGuard guard;
  cpu::set_gemm_precision(GemmPrecision::f32);
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas}) {
    cpu::set_gemm_backend(be);
    for (bool tb : {false, true}) {
      Problem shared = make_problem(false, tb, 7, 13, 197, 5, true, test::fresh_seed());
      shared.use_bias = true;
      SCOPED_TRACE(describe(be, shared));
      EXPECT_TRUE(run_and_check(shared, false, 1e-5));
      Problem big = make_problem(tb, !tb, 197, 131, 67, 1, false, test::fresh_seed());  // several row blocks
      EXPECT_TRUE(run_and_check(big, false, 1e-5)) << describe(be, big);
    }
  }
}

// The same shapes with different beta (or alpha) values must not reuse a primitive built for another.
TEST(Gemm, RepeatedShapeWithDifferentScalars) {
  GemmStateGuard guard;
  cpu::set_gemm_precision(GemmPrecision::f32);
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas}) {
    cpu::set_gemm_backend(be);
    for (auto [alpha, beta] : {std::pair{1.0f, 0.5f}, {1.0f, 2.0f}, {0.5f, 1.0f}, {2.0f, 1.0f}, {2.0f, 0.0f}}) {
      Problem p = make_problem(false, true, 11, 9, 17, 2, false, test::fresh_seed());
      p.alpha = alpha, p.beta = beta;
      SCOPED_TRACE(describe(be, p));
      EXPECT_TRUE(run_and_check(p, false, 1e-5));
    }
  }
}

TEST(Gemm, EmptyInnerDimensionGivesBetaCPlusBias) {
  GemmStateGuard guard;
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas}) {
    cpu::set_gemm_backend(be);
    for (float beta : {0.0f, 0.5f}) {
      Problem p = make_problem(false, false, 5, 7, 0, 2, false, test::fresh_seed());
      p.beta = beta, p.use_bias = true;
      if (beta == 0.0f)  // beta = 0 must overwrite C, NaN included (as BLAS does)
        for (float& x : p.c) x = NAN;
      SCOPED_TRACE(describe(be, p));
      EXPECT_TRUE(run_and_check(p, false, 1e-6));
    }
  }
}

TEST(Gemm, Bf16PrecisionRoundsInputsAndAccumulatesInF32) {
  GemmStateGuard guard;
  cpu::set_gemm_precision(GemmPrecision::bf16);
  for (GemmBackend be : {GemmBackend::onednn, GemmBackend::openblas}) {
    cpu::set_gemm_backend(be);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Problem p = make_problem(ta, tb, 13, 67, 197, 3, ta && tb, test::fresh_seed());
        p.alpha = 0.7f, p.beta = 0.5f, p.use_bias = true;
        SCOPED_TRACE(describe(be, p));
        EXPECT_TRUE(run_and_check(p, true, 1e-5));
        // ...and it really is bf16: far from the f32 result.
        EXPECT_FALSE(run_and_check(p, false, 1e-4));
      }
  }
}

}  // namespace
}  // namespace mapet
