// Reductions give bit-identical results for 1 and 2 threads: a run must not
// change with the size of the thread pool (kernels/cpu/reduce.h). GEMMs
// do where their backend guarantees it (cpu::gemm_thread_count_invariant);
// elsewhere 1 and 2 threads agree within a tolerance, and a repeated run with
// the same thread count gives the same bits (the README's determinism guarantee).
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "engine/ops/ops.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/reduce.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

::testing::AssertionResult same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << what << ", element " << i << ": " << a[i] << " vs " << b[i]
                                           << " (difference " << a[i] - b[i] << ")";
  return ::testing::AssertionSuccess();
}

// Runs f() with 1 and then 2 threads (twice); f returns the values to compare.
// tolerance 0: 1 and 2 threads must give the same bits. Otherwise they may
// differ by tolerance times the largest magnitude; two runs with 2 threads must
// still give the same bits.
::testing::AssertionResult same_for_1_and_2_threads(const std::function<std::vector<float>()>& f,
                                                    double tolerance = 0) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> one = f();
  omp_set_num_threads(2);
  std::vector<float> two = f(), two_again = f();
  omp_set_num_threads(before);
  if (auto r = same_bits(two, two_again, "two runs with 2 threads"); !r) return r;
  if (tolerance == 0) return same_bits(one, two, "1 thread vs 2");
  if (one.size() != two.size()) return ::testing::AssertionFailure() << "sizes differ";
  double scale = 0;
  for (float v : one) scale = std::max(scale, std::fabs(double(v)));
  for (size_t i = 0; i < one.size(); ++i)
    if (std::fabs(double(one[i]) - two[i]) > tolerance * scale)
      return ::testing::AssertionFailure() << "element " << i << ": " << one[i] << " with 1 thread, " << two[i]
                                           << " with 2, beyond " << tolerance << " x " << scale;
  return ::testing::AssertionSuccess();
}

// The tolerance for results that went through GEMMs: 0 (same bits) where the
// backend guarantees it, else about a hundred f32 roundings of the largest value.
double gemm_tolerance() { return cpu::gemm_thread_count_invariant() ? 0 : 1e-5; }

constexpr int64_t kRows = 1001, kCols = 67;  // many reduction chunks, an odd split between threads

TEST(ThreadDeterminism, SumRowsAndBroadcastGradient) {
  std::vector<float> x = test::randn({kRows, kCols}, test::fresh_seed(), 10.0f).to_vector();
  std::vector<float> a = test::randn({kRows, kCols}, test::fresh_seed()).to_vector();
  EXPECT_TRUE(same_for_1_and_2_threads([&] {
    std::vector<float> out(kCols);
    cpu::sum_rows(x.data(), out.data(), kRows, kCols);
    return out;
  }));
  EXPECT_TRUE(same_for_1_and_2_threads([&] {
    std::vector<float> out(kCols);
    cpu::mul_broadcast_grad_b(x.data(), a.data(), out.data(), kRows * kCols, kCols);
    return out;
  }));
}

// The gradient norm of clip_grad_norm: arrays of odd lengths, several blocks each.
TEST(ThreadDeterminism, SumSquaresOverManyArrays) {
  std::vector<std::vector<float>> xs;
  for (int64_t n : {1, 17, 16384, 40000, 100003})
    xs.push_back(test::randn({n}, test::fresh_seed(), 3.0f).to_vector());
  std::vector<std::pair<const float*, int64_t>> arrays;
  long double want = 0;
  for (const auto& x : xs) {
    arrays.emplace_back(x.data(), static_cast<int64_t>(x.size()));
    for (float v : x) want += static_cast<long double>(v) * v;
  }
  EXPECT_NEAR(cpu::sum_squares(arrays), static_cast<double>(want), 1e-12 * static_cast<double>(want));
  EXPECT_TRUE(same_for_1_and_2_threads([&] {
    const double s = cpu::sum_squares(arrays);
    std::vector<float> bits(2);
    std::memcpy(bits.data(), &s, sizeof s);
    return bits;
  }));
}

// Weight gradients are GEMMs with a long inner dimension (all the tokens of a batch).
TEST(ThreadDeterminism, GemmWithLongInnerDimension) {
  const int64_t m = 13, n = 7, k = 20011;
  std::vector<float> a = test::randn({k, m}, test::fresh_seed()).to_vector(),
                     b = test::randn({k, n}, test::fresh_seed()).to_vector();
  const cpu::GemmBackend before = cpu::gemm_backend();
  for (cpu::GemmBackend be : {cpu::GemmBackend::onednn, cpu::GemmBackend::openblas}) {
    cpu::set_gemm_backend(be);
    EXPECT_TRUE(same_for_1_and_2_threads([&] {
      std::vector<float> c(m * n);
      cpu::gemm(true, false, m, n, k, a.data(), b.data(), c.data());
      return c;
    }, gemm_tolerance())) << (be == cpu::GemmBackend::onednn ? "onednn" : "openblas");
  }
  cpu::set_gemm_backend(before);
}

// The --amp weight gradient (engine/ops/linear.cpp): bf16 inputs, A transposed,
// a long inner dimension (all the tokens of a batch), small and ViT-sized outputs.
TEST(ThreadDeterminism, Bf16GemmWithLongInnerDimension) {
  if (cpu::gemm_backend() != cpu::GemmBackend::onednn) GTEST_SKIP() << "gemm_bf16 needs the oneDNN backend";
  for (const auto& mnk : {std::array<int64_t, 3>{13, 7, 20011}, std::array<int64_t, 3>{384, 384, 6304}}) {
    const int64_t m = mnk[0], n = mnk[1], k = mnk[2];  // not a structured binding: clang 14 cannot capture one
    std::vector<float> a = test::randn({k, m}, test::fresh_seed()).to_vector(),
                       b = test::randn({k, n}, test::fresh_seed()).to_vector();
    std::vector<uint16_t> a16(a.size()), b16(b.size());
    cpu::to_bf16(a.data(), a16.data(), static_cast<int64_t>(a.size()));
    cpu::to_bf16(b.data(), b16.data(), static_cast<int64_t>(b.size()));
    EXPECT_TRUE(same_for_1_and_2_threads([&] {
      std::vector<float> c(m * n);
      cpu::gemm_bf16(true, false, m, n, k, a16.data(), b16.data(), c.data());
      return c;
    }, gemm_tolerance())) << m << " x " << n << " x " << k;
  }
}

TEST(ThreadDeterminism, LayerNormBackward) {
  uint64_t s = test::fresh_seed();
  std::vector<float> x = test::randn({kRows, kCols}, s, 3.0f).to_vector(),
                     dy = test::randn({kRows, kCols}, s + 1).to_vector(), g = test::randn({kCols}, s + 2).to_vector(),
                     b = test::randn({kCols}, s + 3).to_vector();
  EXPECT_TRUE(same_for_1_and_2_threads([&] {
    std::vector<float> y(x.size()), mean(kRows), rstd(kRows), dx(x.size()), dg(kCols), db(kCols);
    cpu::layernorm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), kRows, kCols, 1e-6f);
    cpu::layernorm_backward(dy.data(), x.data(), g.data(), mean.data(), rstd.data(), dx.data(), dg.data(), db.data(),
                            kRows, kCols);
    std::vector<float> all = y;
    for (const auto* v : {&dx, &dg, &db}) all.insert(all.end(), v->begin(), v->end());
    return all;
  }));
}

// A small ViT-like step through the ops: linear (its dW, db and the GEMMs behind
// them), layer norm, GELU, attention, mean pooling and cross-entropy.
TEST(ThreadDeterminism, OpsForwardAndBackward) {
  uint64_t s = test::fresh_seed();
  const int64_t B = 3, T = 67, D = 24, H = 2;
  Tensor x = test::randn({B, T, D}, s), w = test::randn({3 * D, D}, s + 1, 0.2f), bias = test::randn({3 * D}, s + 2),
         head = test::randn({7, D}, s + 3, 0.2f);
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 6, 0}, {3});
  EXPECT_TRUE(same_for_1_and_2_threads([&] {
    Var xv(x.clone(), true), wv(w.clone(), true), bv(bias.clone(), true), hv(head.clone(), true);
    Var gamma(Tensor::full({D}, 1.0f), true), beta(Tensor::zeros({D}), true);
    Var qkv = ops::linear(ops::layer_norm(xv, gamma, beta, 1e-6f), wv, bv);
    auto part = [&](int i) {  // q, k or v as [B, H, T, D / H]
      Var x = ops::contiguous(ops::slice(qkv, 2, i * D, (i + 1) * D));
      return ops::transpose(ops::reshape(x, {B, T, H, D / H}), 1, 2);
    };
    Var att = ops::scaled_dot_product_attention(part(0), part(1), part(2));
    Var pooled = ops::mean(ops::gelu(ops::reshape(ops::contiguous(ops::transpose(att, 1, 2)), {B, T, D})), 1);
    Var loss = ops::cross_entropy(ops::linear(pooled, hv, Var()), labels, 0.1f);
    autograd::backward(loss);
    std::vector<float> all = loss.value().to_vector();
    for (const Var* v : {&xv, &wv, &bv, &hv, &gamma, &beta}) {
      std::vector<float> g = v->grad().to_vector();
      all.insert(all.end(), g.begin(), g.end());
    }
    return all;
  }, gemm_tolerance()));
}

}  // namespace
}  // namespace mapet
