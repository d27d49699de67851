// The fused interval attention (ops::interval_attention, kernels/cpu/interval_attention.cpp)
// against the dense-mask reference (ops::interval_attention_reference) and a
// float64 reference with finite differences: forward and the gradients of q,
// k, v, for the MaPeT/PeT/MIM masks at sizes that are not multiples of the
// kernel's tiles, odd head dims, strided views, rows that see nothing, and
// bit-identical results for 1 and 2 threads.
#include "engine/ops/interval_attention.h"

#include <omp.h>

#include <cstring>

#include "engine/ops/shape.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

using common::Objective;

const char* name(Objective o) { return o == Objective::mapet ? "mapet" : o == Objective::pet ? "pet" : "mim"; }

struct Result {
  std::vector<float> out, dq, dk, dv;
};

// Forward, then backward of sum(out * R) (R fixed random): the output and the three gradients.
using AttentionFn = Var (*)(const Var&, const Var&, const Var&, const ops::IntervalMask&, float);
Result run(AttentionFn fn, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& r,
           const ops::IntervalMask& m, float scale = -1.0f) {
  Var qv(q.clone(), true), kv(k.clone(), true), vv(v.clone(), true);
  Var out = fn(qv, kv, vv, m, scale);
  Var prod = autograd::make_output(Tensor::full({1}, 0.0f), {&out});
  autograd::record(prod, [out, r](const Tensor&) { autograd::accumulate(out, r.clone()); });
  autograd::backward(prod);
  return {out.value().to_vector(), qv.grad().to_vector(), kv.grad().to_vector(), vv.grad().to_vector()};
}

// all_close with an absolute tolerance relative to the reference's largest magnitude.
::testing::AssertionResult close_to(const std::vector<float>& got, const std::vector<float>& want, double rtol) {
  double scale = 0.0;
  for (float x : want) scale = std::max(scale, static_cast<double>(std::abs(x)));
  return test::all_close(got, std::vector<double>(want.begin(), want.end()), rtol, rtol * std::max(scale, 1e-30));
}

::testing::AssertionResult bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

struct Case {
  Objective obj;
  int64_t T, L, B, H, d;
};

std::string str(const Case& c) {
  return std::string(name(c.obj)) + " T=" + std::to_string(c.T) + " L=" + std::to_string(c.L) +
         " B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) + " d=" + std::to_string(c.d);
}

// A case's mask, random q, k, v and the cotangent r of the output.
struct Inputs {
  ops::IntervalMask m;
  Tensor q, k, v, r;
};

Inputs make_inputs(const Case& c, uint64_t seed) {
  Inputs in{ops::mapet_interval_mask(c.obj, c.T, c.L), {}, {}, {}, {}};
  const int64_t Tq = static_cast<int64_t>(in.m.real_end.size()),
                Tk = common::mapet_key_rows(c.obj, static_cast<int>(c.T), static_cast<int>(c.L));
  // Scores of a few units, as in a trained network, so that softmax is not flat.
  in.q = test::randn({c.B, c.H, Tq, c.d}, seed, 1.5f);
  in.k = test::randn({c.B, c.H, Tk, c.d}, seed + 1, 1.5f);
  in.v = test::randn({c.B, c.H, Tk, c.d}, seed + 2);
  in.r = test::randn({c.B, c.H, Tq, c.d}, seed + 3);
  return in;
}

void compare_with_reference(const Case& c, uint64_t seed) {
  SCOPED_TRACE(str(c) + " seed=" + std::to_string(seed));
  const auto [m, q, k, v, r] = make_inputs(c, seed);
  Result want = run(&ops::interval_attention_reference, q, k, v, r, m);
  Result got = run(&ops::interval_attention, q, k, v, r, m);
  EXPECT_TRUE(close_to(got.out, want.out, 5e-6)) << "output";
  EXPECT_TRUE(close_to(got.dq, want.dq, 1.5e-5)) << "dq";
  EXPECT_TRUE(close_to(got.dk, want.dk, 1.5e-5)) << "dk";
  EXPECT_TRUE(close_to(got.dv, want.dv, 1.5e-5)) << "dv";
}

// Largest |got - want| over the largest |want|.
double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0.0, scale = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return err / scale;
}

// Under --amp (bf16 GEMM precision) on a CPU with AVX-512 BF16 the tile
// products take bf16 inputs with f32 sums. Against the f32 dense reference the
// error is then that of bf16 rounding (2^-9 relative per input), not f32's;
// and it must still be deterministic across thread counts.
TEST(IntervalAttention, Bf16ProductsUnderAmpStayCloseToF32Reference) {
  if (!cpu::native_bf16()) GTEST_SKIP() << "no AVX-512 BF16 on this CPU: --amp keeps the f32 products";
  const cpu::GemmPrecision before = cpu::gemm_precision();
  for (const Case& c : {Case{Objective::mapet, 197, 50, 2, 3, 64}, Case{Objective::mim, 197, 197, 1, 2, 64},
                        Case{Objective::pet, 37, 9, 1, 2, 13}, Case{Objective::mapet, 50, 5, 1, 1, 80}}) {
    const uint64_t seed = test::fresh_seed();
    SCOPED_TRACE(str(c) + " seed=" + std::to_string(seed));
    const auto [m, q, k, v, r] = make_inputs(c, seed);
    cpu::set_gemm_precision(cpu::GemmPrecision::f32);
    Result want = run(&ops::interval_attention_reference, q, k, v, r, m);
    Result f32 = run(&ops::interval_attention, q, k, v, r, m);
    cpu::set_gemm_precision(cpu::GemmPrecision::bf16);
    Result got = run(&ops::interval_attention, q, k, v, r, m);
    const double e_out = rel_error(got.out, want.out), e_dq = rel_error(got.dq, want.dq),
                 e_dk = rel_error(got.dk, want.dk), e_dv = rel_error(got.dv, want.dv);
    // Measured: 3e-3 to 7e-3 for all four.
    EXPECT_LT(e_out, 2e-2);
    EXPECT_LT(e_dq, 2e-2);
    EXPECT_LT(e_dk, 2e-2);
    EXPECT_LT(e_dv, 2e-2);
    // ...and bf16 really was used: far from the f32 kernel's result.
    EXPECT_GT(rel_error(got.out, f32.out), 1e-4);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Result one = run(&ops::interval_attention, q, k, v, r, m);
    omp_set_num_threads(2);
    Result two = run(&ops::interval_attention, q, k, v, r, m);
    omp_set_num_threads(threads);
    EXPECT_TRUE(bit_identical(one.out, two.out) && bit_identical(one.dq, two.dq) &&
                bit_identical(one.dk, two.dk) && bit_identical(one.dv, two.dv));
  }
  cpu::set_gemm_precision(before);
}

// T not a multiple of the tiles, L from 1 (CLS alone) to T (nothing predicted).
TEST(IntervalAttention, MatchesDenseReferenceOnAwkwardSizes) {
  for (Objective obj : {Objective::mapet, Objective::pet, Objective::mim})
    for (int64_t T : {17, 50, 197})
      for (int64_t L : {int64_t{1}, int64_t{5}, T - 1, int64_t{50}}) {
        if (L > T) continue;
        compare_with_reference({obj, T, L, 2, 3, 64}, test::fresh_seed());
      }
}

// Head dims other than 64: the kernel pads d to 16 and splits it into 64-column panels.
TEST(IntervalAttention, MatchesDenseReferenceForOtherHeadDims) {
  for (int64_t d : {1, 13, 16, 32, 48, 80, 100, 128})
    compare_with_reference({Objective::mapet, 37, 9, 1, 2, d}, test::fresh_seed());
}

// A custom scale, and batch x heads fewer than the threads (the forward then
// splits rows of one head between threads).
TEST(IntervalAttention, CustomScaleAndSingleHead) {
  const ops::IntervalMask m = ops::mapet_interval_mask(Objective::mapet, 197, 50);
  const uint64_t seed = test::fresh_seed();
  Tensor q = test::randn({1, 1, 491, 64}, seed), k = test::randn({1, 1, 344, 64}, seed + 1),
         v = test::randn({1, 1, 344, 64}, seed + 2), r = test::randn({1, 1, 491, 64}, seed + 3);
  Result want = run(&ops::interval_attention_reference, q, k, v, r, m, 0.3f);
  Result got = run(&ops::interval_attention, q, k, v, r, m, 0.3f);
  EXPECT_TRUE(close_to(got.out, want.out, 5e-6));
  EXPECT_TRUE(close_to(got.dq, want.dq, 1.5e-5));
  EXPECT_TRUE(close_to(got.dk, want.dk, 1.5e-5));
  EXPECT_TRUE(close_to(got.dv, want.dv, 1.5e-5));
}

TEST(IntervalAttention, BitIdenticalForOneAndTwoThreads) {
  const int before = omp_get_max_threads();
  for (auto [B, H] : {std::pair<int64_t, int64_t>{2, 3}, {1, 1}}) {
    SCOPED_TRACE("B=" + std::to_string(B) + " H=" + std::to_string(H));
    const ops::IntervalMask m = ops::mapet_interval_mask(Objective::mapet, 197, 50);
    const uint64_t seed = test::fresh_seed();
    Tensor q = test::randn({B, H, 491, 64}, seed), k = test::randn({B, H, 344, 64}, seed + 1),
           v = test::randn({B, H, 344, 64}, seed + 2), r = test::randn({B, H, 491, 64}, seed + 3);
    omp_set_num_threads(1);
    Result one = run(&ops::interval_attention, q, k, v, r, m);
    omp_set_num_threads(2);
    Result two = run(&ops::interval_attention, q, k, v, r, m);
    omp_set_num_threads(before);
    EXPECT_TRUE(bit_identical(one.out, two.out)) << "output";
    EXPECT_TRUE(bit_identical(one.dq, two.dq)) << "dq";
    EXPECT_TRUE(bit_identical(one.dk, two.dk)) << "dk";
    EXPECT_TRUE(bit_identical(one.dv, two.dv)) << "dv";
  }
}

// The float64 reference: attention with row i seeing keys [0, real_end) and
// [num_real + mask_start, Tk); a row that sees nothing outputs zeros.
std::vector<double> interval_attention_f64(const std::vector<double>& q, const std::vector<double>& k,
                                           const std::vector<double>& v, const ops::IntervalMask& m, int64_t BH,
                                           int64_t Tk, int64_t d, double scale) {
  const int64_t Tq = static_cast<int64_t>(m.real_end.size());
  std::vector<double> out(static_cast<size_t>(BH * Tq * d), 0.0), p(Tk);
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t i = 0; i < Tq; ++i) {
      double mx = -INFINITY, sum = 0.0;
      for (int64_t j = 0; j < Tk; ++j) {
        const bool sees = j < m.num_real ? j < m.real_end[i] : j - m.num_real >= m.mask_start[i];
        double dot = 0.0;
        for (int64_t c = 0; c < d; ++c) dot += q[(bh * Tq + i) * d + c] * k[(bh * Tk + j) * d + c];
        p[j] = sees ? scale * dot : -INFINITY;
        mx = std::max(mx, p[j]);
      }
      if (mx == -INFINITY) continue;
      for (int64_t j = 0; j < Tk; ++j) sum += p[j] = std::exp(p[j] - mx);
      for (int64_t j = 0; j < Tk; ++j)
        for (int64_t c = 0; c < d; ++c) out[(bh * Tq + i) * d + c] += p[j] / sum * v[(bh * Tk + j) * d + c];
    }
  return out;
}

void finite_differences(const ops::IntervalMask& m, int64_t B, int64_t H, int64_t Tk, int64_t d, uint64_t seed) {
  const int64_t Tq = static_cast<int64_t>(m.real_end.size());
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  test::check_op(
      [&](const std::vector<Var>& x) { return ops::interval_attention(x[0], x[1], x[2], m); },
      [&](const auto& x) { return interval_attention_f64(x[0], x[1], x[2], m, B * H, Tk, d, scale); },
      {test::randn({B, H, Tq, d}, seed), test::randn({B, H, Tk, d}, seed + 1), test::randn({B, H, Tk, d}, seed + 2)},
      1e-5, 1e-6, 1e-4, 1e-5, {}, seed + 3);
}

TEST(IntervalAttention, GradientsMatchFiniteDifferences) {
  for (Objective obj : {Objective::mapet, Objective::pet, Objective::mim}) {
    const uint64_t seed = test::fresh_seed();
    SCOPED_TRACE(std::string(name(obj)) + " seed=" + std::to_string(seed));
    const ops::IntervalMask m = ops::mapet_interval_mask(obj, 6, 2);
    finite_differences(m, 1, 2, common::mapet_key_rows(obj, 6, 2), 3, seed);
  }
}

// Rows that see nothing output zeros and get zero gradients (and nothing is NaN).
TEST(IntervalAttention, RowsThatSeeNothing) {
  ops::IntervalMask m;
  m.num_real = 4;                      // keys: 4 real, 3 mask tokens
  m.real_end = {0, 2, 4, 0, 1, 0, 4};  // rows 0, 3 and 5 see nothing
  m.mask_start = {3, 0, 3, 3, 5, 9, 0};
  const int64_t Tk = 7, d = 5;
  const uint64_t seed = test::fresh_seed();
  finite_differences(m, 1, 2, Tk, d, seed);

  Tensor q = test::randn({1, 2, 7, d}, seed), k = test::randn({1, 2, Tk, d}, seed + 1),
         v = test::randn({1, 2, Tk, d}, seed + 2), r = test::randn({1, 2, 7, d}, seed + 3);
  Result got = run(&ops::interval_attention, q, k, v, r, m);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i : {0, 3, 5})
      for (int64_t c = 0; c < d; ++c) {
        EXPECT_EQ(got.out[(h * 7 + i) * d + c], 0.0f) << "row " << i;
        EXPECT_EQ(got.dq[(h * 7 + i) * d + c], 0.0f) << "row " << i;
      }
  for (const auto* g : {&got.out, &got.dq, &got.dk, &got.dv})
    for (float x : *g) EXPECT_TRUE(std::isfinite(x));
}

// q, k, v as the [B, H, T, d] transposes of [B, T, H, d] tensors (how the model splits heads).
TEST(IntervalAttention, StridedViewsGiveTheSameResult) {
  const ops::IntervalMask m = ops::mapet_interval_mask(Objective::mapet, 23, 7);
  const int64_t B = 2, H = 3, Tq = 23 + 2 * 16, Tk = 23 + 16, d = 32;
  const uint64_t seed = test::fresh_seed();
  Tensor q = test::randn({B, Tq, H, d}, seed), k = test::randn({B, Tk, H, d}, seed + 1),
         v = test::randn({B, Tk, H, d}, seed + 2), r = test::randn({B, H, Tq, d}, seed + 3);
  auto backward_of = [&](const Var& out) {  // backward of sum(out * r)
    Var prod = autograd::make_output(Tensor::full({1}, 0.0f), {&out});
    autograd::record(prod, [out, r](const Tensor&) { autograd::accumulate(out, r.clone()); });
    autograd::backward(prod);
  };
  Var qv(q, true), kv(k, true), vv(v, true);
  Var y = ops::interval_attention(ops::transpose(qv, 1, 2), ops::transpose(kv, 1, 2), ops::transpose(vv, 1, 2), m);
  backward_of(y);
  Var qc(q.transpose(1, 2).contiguous(), true), kc(k.transpose(1, 2).contiguous(), true),
      vc(v.transpose(1, 2).contiguous(), true);
  Var yc = ops::interval_attention(qc, kc, vc, m);
  backward_of(yc);
  EXPECT_TRUE(bit_identical(y.value().to_vector(), yc.value().to_vector()));
  EXPECT_TRUE(bit_identical(qv.grad().transpose(1, 2).to_vector(), qc.grad().to_vector()));
  EXPECT_TRUE(bit_identical(kv.grad().transpose(1, 2).to_vector(), kc.grad().to_vector()));
  EXPECT_TRUE(bit_identical(vv.grad().transpose(1, 2).to_vector(), vc.grad().to_vector()));
}

// The packed form reads q [B, Tq, D] and kv [B, Tk, 2D] as the projections
// write them and writes heads merged: the same numbers, bit for bit, as the
// [B, H, T, d] form on contiguous copies, for d on and off the 16-lane width
// and for both product precisions.
TEST(IntervalAttention, PackedProjectionsGiveTheSameResult) {
  const ops::IntervalMask m = ops::mapet_interval_mask(Objective::mapet, 23, 7);
  const int64_t B = 2, H = 3, Tq = 23 + 2 * 16, Tk = 23 + 16;
  const cpu::GemmPrecision before = cpu::gemm_precision();
  for (cpu::GemmPrecision precision : {cpu::GemmPrecision::f32, cpu::GemmPrecision::bf16}) {
    if (precision == cpu::GemmPrecision::bf16 && !cpu::native_bf16()) continue;
    cpu::set_gemm_precision(precision);
    for (int64_t d : {32, 20}) {
      const int64_t D = H * d;
      const uint64_t seed = test::fresh_seed();
      SCOPED_TRACE("d=" + std::to_string(d) + " seed=" + std::to_string(seed));
      Tensor q = test::randn({B, Tq, D}, seed), kv = test::randn({B, Tk, 2 * D}, seed + 1),
             r = test::randn({B, Tq, D}, seed + 2);
      auto backward_of = [](const Var& out, const Tensor& weights) {  // backward of sum(out * weights)
        Var prod = autograd::make_output(Tensor::full({1}, 0.0f), {&out});
        autograd::record(prod, [out, weights](const Tensor&) { autograd::accumulate(out, weights.clone()); });
        autograd::backward(prod);
      };
      Var qp(q.clone(), true), kvp(kv.clone(), true);
      Var yp = ops::interval_attention_packed(qp, kvp, H, m);
      backward_of(yp, r);
      // Heads as contiguous [B, H, T, d] copies: q, then k and v out of kv.
      auto heads = [&](const Tensor& t, int64_t part) {
        return t.slice(2, part * D, (part + 1) * D).contiguous().view({B, t.size(1), H, d}).transpose(1, 2).contiguous();
      };
      Var qh(heads(q, 0), true), kh(heads(kv, 0), true), vh(heads(kv, 1), true);
      Var yh = ops::interval_attention(qh, kh, vh, m);
      backward_of(yh, r.view({B, Tq, H, d}).transpose(1, 2).contiguous());
      auto merged = [&](const Tensor& t) { return t.transpose(1, 2).contiguous().view({B, t.size(2), D}); };
      EXPECT_TRUE(bit_identical(yp.value().to_vector(), merged(yh.value()).to_vector())) << "output";
      EXPECT_TRUE(bit_identical(qp.grad().to_vector(), merged(qh.grad()).to_vector())) << "dq";
      EXPECT_TRUE(bit_identical(kvp.grad().slice(2, 0, D).contiguous().to_vector(), merged(kh.grad()).to_vector()))
          << "dk";
      EXPECT_TRUE(bit_identical(kvp.grad().slice(2, D, 2 * D).contiguous().to_vector(),
                                merged(vh.grad()).to_vector()))
          << "dv";
    }
  }
  cpu::set_gemm_precision(before);
  EXPECT_THROW(ops::interval_attention_packed(Var(Tensor::zeros({1, Tq, 12})), Var(Tensor::zeros({1, Tk, 20})), 2, m),
               Error);
  EXPECT_THROW(ops::interval_attention_packed(Var(Tensor::zeros({1, Tq, 12})), Var(Tensor::zeros({1, Tk, 24})), 5, m),
               Error);
}

TEST(IntervalAttention, RejectsMismatchedShapes) {
  const ops::IntervalMask m = ops::mapet_interval_mask(Objective::mapet, 10, 3);
  Var q(Tensor::zeros({1, 2, 24, 8})), k(Tensor::zeros({1, 2, 17, 8})), v(Tensor::zeros({1, 2, 17, 8}));
  EXPECT_NO_THROW(ops::interval_attention(q, k, v, m));
  EXPECT_THROW(ops::interval_attention(Var(Tensor::zeros({1, 2, 23, 8})), k, v, m), Error);
  EXPECT_THROW(ops::interval_attention(q, Var(Tensor::zeros({1, 2, 17, 4})), v, m), Error);
  EXPECT_THROW(ops::interval_attention(q, k, Var(Tensor::zeros({1, 2, 16, 8})), m), Error);
  ops::IntervalMask bad = m;
  bad.num_real = 18;
  EXPECT_THROW(ops::interval_attention(q, k, v, bad), Error);
}

}  // namespace
}  // namespace mapet
