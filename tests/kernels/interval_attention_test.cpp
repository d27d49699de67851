// The interval attention's CUDA kernels (kernels/cuda/interval_attention.cu)
// against the CPU twin (kernels/cpu/interval_attention.cpp), forward and
// backward, both precisions, under simt in every thread order (twin.h).
//
// Tolerances, relative to the largest value of the tensor (the worst errors
// seen are printed):
//   f32: the same math in another summation order: 1e-5 (worst seen 2e-6).
//   bf16: the kernel rounds Q, K, V, dO to bf16 on load (checked bit for bit:
//   raw and pre-rounded inputs give the same bits), so the twin gets them
//   pre-rounded. What is left is the rounding of P (for O and dV) and dS (for
//   dQ and dK) to bf16 for their products, each term off by up to 2^-9 = 2e-3
//   relative: 1e-2 (worst seen 3.2e-3).
#include "kernels/cuda/interval_attention.cuh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/bf16.h"
#include "kernels/common/interval_mask.h"
#include "kernels/cpu/gemm.h"
#include "tests/kernels/twin.h"

namespace mapet::test {
namespace {

using common::Objective;
using cuda::AttentionPrecision;

constexpr double kF32Tol = 1e-5, kBf16Tol = 1e-2;

// Strides of a [B, H, T, d] tensor stored as [B, H, T, d] or, heads merged, [B, T, H, d].
struct Layout {
  int64_t batch, head, row;
};
Layout layout(int64_t H, int64_t T, int64_t d, bool merged) {
  return merged ? Layout{T * H * d, d, H * d} : Layout{H * T * d, T * d, d};
}

struct Problem {
  std::string name;
  int64_t B, H, Tq, Tk, d, num_real;
  bool merged;  // heads-merged layouts ([B, T, H, d]) for every tensor
  std::vector<int32_t> real_end, mask_start;
  std::vector<float> q, k, v, dout;  // raw inputs
  cpu::IntervalAttentionShape shape(const int32_t* re, const int32_t* ms) const {
    return {B, H, Tq, Tk, d, num_real, re, ms, 1.0f / std::sqrt(static_cast<float>(d))};
  }
  Layout lq() const { return layout(H, Tq, d, merged); }
  Layout lk() const { return layout(H, Tk, d, merged); }
};

std::vector<float> randn(size_t n, uint64_t seed, float sd) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, sd);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// Random inputs for a mask; scores of a few units (q, k ~ N(0, 1.5^2)), so that softmax is not flat.
Problem make(std::string name, int64_t B, int64_t H, int64_t d, int64_t num_real, int64_t Tk,
             std::vector<int32_t> real_end, std::vector<int32_t> mask_start, bool merged, uint64_t seed) {
  Problem p{std::move(name), B, H, static_cast<int64_t>(real_end.size()), Tk, d, num_real, merged,
            std::move(real_end), std::move(mask_start), {}, {}, {}, {}};
  p.q = randn(size_t(B * H * p.Tq * d), seed, 1.5f);
  p.k = randn(size_t(B * H * Tk * d), seed + 1, 1.5f);
  p.v = randn(size_t(B * H * Tk * d), seed + 2, 1.0f);
  p.dout = randn(size_t(B * H * p.Tq * d), seed + 3, 1.0f);
  return p;
}

// The rows of an objective's two-stream layout (kernels/common/interval_mask.h).
Problem objective(Objective obj, int T, int L, int64_t B, int64_t H, int64_t d, bool merged, uint64_t seed) {
  const int Tq = common::mapet_query_rows(obj, T, L), Tk = common::mapet_key_rows(obj, T, L);
  std::vector<int32_t> re(Tq), ms(Tq);
  for (int r = 0; r < Tq; ++r) {
    const common::IntervalRow row = common::mapet_row_interval(obj, r, T, L);
    re[r] = row.real_end, ms[r] = row.mask_start;
  }
  const char* o = obj == Objective::mapet ? "mapet" : obj == Objective::pet ? "pet" : "mim";
  return make(std::string(o) + " T=" + std::to_string(T) + " L=" + std::to_string(L) + " d=" + std::to_string(d), B, H,
              d, T, Tk, std::move(re), std::move(ms), merged, seed);
}

std::vector<float> bf16_rounded(std::vector<float> x) {
  for (float& v : x) v = common::bf16_to_float(common::float_to_bf16(v));
  return x;
}

struct Result {
  std::vector<float> out, lse, dq, dk, dv;
};

cpu::HeadsView in_view(const float* x, Layout l) { return {x, l.batch, l.head, l.row}; }
cpu::OutHeadsView out_view(float* x, Layout l) { return {x, l.batch, l.head, l.row}; }

// The CPU twin (f32 products) on q, k, v, dout as given.
Result cpu_twin(const Problem& p, const std::vector<float>& q, const std::vector<float>& k,
                const std::vector<float>& v, const std::vector<float>& dout) {
  const cpu::GemmPrecision before = cpu::gemm_precision();
  cpu::set_gemm_precision(cpu::GemmPrecision::f32);
  const auto s = p.shape(p.real_end.data(), p.mask_start.data());
  Result r{std::vector<float>(q.size()), std::vector<float>(size_t(p.B * p.H * p.Tq)), std::vector<float>(q.size()),
           std::vector<float>(k.size()), std::vector<float>(v.size())};
  cpu::interval_attention_forward(s, in_view(q.data(), p.lq()), in_view(k.data(), p.lk()), in_view(v.data(), p.lk()),
                                  out_view(r.out.data(), p.lq()), r.lse.data());
  cpu::interval_attention_backward(s, in_view(q.data(), p.lq()), in_view(k.data(), p.lk()), in_view(v.data(), p.lk()),
                                   in_view(r.out.data(), p.lq()), r.lse.data(), in_view(dout.data(), p.lq()),
                                   out_view(r.dq.data(), p.lq()), out_view(r.dk.data(), p.lk()),
                                   out_view(r.dv.data(), p.lk()));
  cpu::set_gemm_precision(before);
  return r;
}

// The CUDA forward on the raw inputs.
Result cuda_forward(const Problem& p, AttentionPrecision prec) {
  twin::Case c;
  const auto s = p.shape(c.input(p.real_end), c.input(p.mask_start));
  const float *q = c.input(p.q), *k = c.input(p.k), *v = c.input(p.v);
  float* out = c.output<float>(p.q.size());
  float* lse = c.output<float>(size_t(p.B * p.H * p.Tq));
  c.run([&] {
    cuda::interval_attention_forward(s, in_view(q, p.lq()), in_view(k, p.lk()), in_view(v, p.lk()),
                                     out_view(out, p.lq()), lse, prec);
  });
  return {c.read(out), c.read(lse), {}, {}, {}};
}

// The CUDA backward on the raw inputs, with the twin's out and lse.
Result cuda_backward(const Problem& p, const Result& fwd, AttentionPrecision prec) {
  twin::Case c;
  const auto s = p.shape(c.input(p.real_end), c.input(p.mask_start));
  const float *q = c.input(p.q), *k = c.input(p.k), *v = c.input(p.v), *dout = c.input(p.dout);
  const float *out = c.input(fwd.out), *lse = c.input(fwd.lse);
  float* dq = c.output<float>(p.q.size());
  float* dk = c.output<float>(p.k.size());
  float* dv = c.output<float>(p.v.size());
  c.run([&] {
    cuda::interval_attention_backward(s, in_view(q, p.lq()), in_view(k, p.lk()), in_view(v, p.lk()),
                                      in_view(out, p.lq()), lse, in_view(dout, p.lq()), out_view(dq, p.lq()),
                                      out_view(dk, p.lk()), out_view(dv, p.lk()), prec);
  });
  return {{}, {}, c.read(dq), c.read(dk), c.read(dv)};
}

// |got - want| <= rel * (largest |want| of the tensor), as the op's own tests
// (tests/ops/interval_attention_test.cpp): a gradient row can be all
// cancellation (a row that sees one key has dS = 0 up to rounding), so its
// own scale says nothing. The worst error is printed.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want, double rel,
                                 const std::string& what) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  double scale = 0, worst = 0;
  for (float w : want) scale = std::max(scale, std::fabs(double(w)));
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i])) / scale;
    if (!(e <= rel) && bad++ == 0) first = i;
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  std::printf("  %-36s worst error %.1e of the largest value (tolerance %.0e)\n", what.c_str(), worst, rel);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size() << " values off; first at "
                                       << first << " (" << got[first] << " vs " << want[first] << "), worst "
                                       << worst << " of the largest value " << scale << " (tolerance " << rel << ")";
}

// log-sum-exp: -inf exactly where the twin has it, else within tol * max(1, |lse|).
::testing::AssertionResult lse_close(const std::vector<float>& got, const std::vector<float>& want, double tol,
                                     const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i];
    const bool ok = std::isinf(w) ? got[i] == w : std::fabs(got[i] - w) <= tol * std::max(1.0, std::fabs(w));
    if (!ok) return ::testing::AssertionFailure() << what << ": lse[" << i << "] " << got[i] << " vs " << want[i];
  }
  return ::testing::AssertionSuccess();
}

void check_forward(const Problem& p, AttentionPrecision prec) {
  const bool bf16 = prec == AttentionPrecision::bf16;
  const double tol = bf16 ? kBf16Tol : kF32Tol;
  const std::string what = p.name + (bf16 ? " bf16 " : " f32 ");
  const Result want = bf16 ? cpu_twin(p, bf16_rounded(p.q), bf16_rounded(p.k), bf16_rounded(p.v), p.dout)
                           : cpu_twin(p, p.q, p.k, p.v, p.dout);
  const Result got = cuda_forward(p, prec);
  EXPECT_TRUE(close(got.out, want.out, tol, what + "out"));
  EXPECT_TRUE(lse_close(got.lse, want.lse, bf16 ? 1e-4 : 1e-5, what + "lse"));
}

void check_backward(const Problem& p, AttentionPrecision prec) {
  const bool bf16 = prec == AttentionPrecision::bf16;
  const double tol = bf16 ? kBf16Tol : kF32Tol;
  const std::string what = p.name + (bf16 ? " bf16 " : " f32 ");
  const Result want = bf16 ? cpu_twin(p, bf16_rounded(p.q), bf16_rounded(p.k), bf16_rounded(p.v), bf16_rounded(p.dout))
                           : cpu_twin(p, p.q, p.k, p.v, p.dout);
  const Result got = cuda_backward(p, want, prec);
  EXPECT_TRUE(close(got.dq, want.dq, tol, what + "dq"));
  EXPECT_TRUE(close(got.dk, want.dk, tol, what + "dk"));
  EXPECT_TRUE(close(got.dv, want.dv, tol, what + "dv"));
}

// Shapes: none a multiple of the 64-row / 64-key tiles; d = 24, 40 (padded to
// 32 and 64 inside), 64, 96 (padded to 128; the backward's 32-row steps).
Problem tiny_mapet() { return objective(Objective::mapet, 5, 2, 1, 2, 24, false, 11); }       // Tq 11, Tk 8
Problem pet_merged() { return objective(Objective::pet, 37, 9, 2, 1, 40, true, 21); }         // Tq 65, Tk 37
Problem mim() { return objective(Objective::mim, 50, 50, 1, 2, 64, false, 31); }              // Tq 50, Tk 50
Problem mid_mapet() { return objective(Objective::mapet, 70, 20, 1, 1, 64, false, 41); }      // Tq 170, Tk 120
Problem wide_mapet() { return objective(Objective::mapet, 21, 6, 1, 1, 96, true, 51); }       // Tq 51, Tk 36
// Hand-made rows (d = 17: odd, so the tiles load element by element): only
// real keys, only mask keys, none at all (zeros out, lse -inf, zero
// gradients), and keys 10..12 and mask key 0 that no row sees.
Problem odd_rows() {
  std::vector<int32_t> re = {10, 0, 0, 5, 1, 10, 0, 7, 10, 3, 0, 9};
  std::vector<int32_t> ms = {7, 1, 7, 3, 6, 7, 9, 1, 2, 7, 7, 1};
  return make("hand-made rows d=17", 1, 2, 17, 13, 20, std::move(re), std::move(ms), false, 61);
}

class IntervalAttentionTwin : public ::testing::TestWithParam<AttentionPrecision> {};

TEST_P(IntervalAttentionTwin, ForwardTiny) { check_forward(tiny_mapet(), GetParam()); }
TEST_P(IntervalAttentionTwin, ForwardPetMergedHeads) { check_forward(pet_merged(), GetParam()); }
TEST_P(IntervalAttentionTwin, ForwardMim) { check_forward(mim(), GetParam()); }
TEST_P(IntervalAttentionTwin, ForwardMidMapet) { check_forward(mid_mapet(), GetParam()); }
TEST_P(IntervalAttentionTwin, ForwardWideHeads) { check_forward(wide_mapet(), GetParam()); }
TEST_P(IntervalAttentionTwin, ForwardRowsThatSeeNothing) {
  const Problem p = odd_rows();
  check_forward(p, GetParam());
  const Result got = cuda_forward(p, GetParam());
  for (int64_t bh = 0; bh < p.B * p.H; ++bh)
    for (int64_t r : {2, 6, 10}) {  // real_end 0, mask_start >= num_mask
      EXPECT_EQ(got.lse[size_t(bh * p.Tq + r)], -INFINITY);
      for (int64_t c = 0; c < p.d; ++c) EXPECT_EQ(got.out[size_t((bh * p.Tq + r) * p.d + c)], 0.0f);
    }
}

TEST_P(IntervalAttentionTwin, BackwardTiny) { check_backward(tiny_mapet(), GetParam()); }
TEST_P(IntervalAttentionTwin, BackwardPetMergedHeads) { check_backward(pet_merged(), GetParam()); }
TEST_P(IntervalAttentionTwin, BackwardMim) { check_backward(mim(), GetParam()); }
TEST_P(IntervalAttentionTwin, BackwardMidMapet) { check_backward(mid_mapet(), GetParam()); }
TEST_P(IntervalAttentionTwin, BackwardWideHeads) { check_backward(wide_mapet(), GetParam()); }
TEST_P(IntervalAttentionTwin, BackwardRowsThatSeeNothing) {
  const Problem p = odd_rows();
  check_backward(p, GetParam());
  // Exact zeros: dQ of the rows that see nothing, dK and dV of the keys no row sees.
  const Result got = cuda_backward(p, cpu_twin(p, p.q, p.k, p.v, p.dout), GetParam());
  for (int64_t bh = 0; bh < p.B * p.H; ++bh)
    for (int64_t c = 0; c < p.d; ++c) {
      for (int64_t r : {2, 6, 10}) EXPECT_EQ(got.dq[size_t((bh * p.Tq + r) * p.d + c)], 0.0f);
      for (int64_t key : {10, 11, 12, 13}) {  // real 10..12, mask 0
        EXPECT_EQ(got.dk[size_t((bh * p.Tk + key) * p.d + c)], 0.0f);
        EXPECT_EQ(got.dv[size_t((bh * p.Tk + key) * p.d + c)], 0.0f);
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Precision, IntervalAttentionTwin,
                         ::testing::Values(AttentionPrecision::f32, AttentionPrecision::bf16),
                         [](const auto& info) { return info.param == AttentionPrecision::f32 ? "f32" : "bf16"; });

// The bf16 path really multiplies in bf16: off the f32 twin by far more than f32 rounding.
TEST(IntervalAttentionTwinBf16, IsNotTheF32Path) {
  const Problem p = mim();
  const Result f32 = cpu_twin(p, p.q, p.k, p.v, p.dout);
  const Result got = cuda_forward(p, AttentionPrecision::bf16);
  EXPECT_FALSE(close(got.out, f32.out, 1e-4, "bf16 kernel vs f32 twin"));
}

// The bf16 path rounds its inputs as it loads them: raw and pre-rounded
// inputs give the same bits (the twin comparisons above rely on this).
TEST(IntervalAttentionTwinBf16, RoundsInputsOnLoad) {
  const Problem raw = mid_mapet();
  Problem rounded = raw;
  for (auto* x : {&rounded.q, &rounded.k, &rounded.v, &rounded.dout}) *x = bf16_rounded(*x);
  const Result f_raw = cuda_forward(raw, AttentionPrecision::bf16);
  const Result f_rounded = cuda_forward(rounded, AttentionPrecision::bf16);
  EXPECT_TRUE(twin::close(f_raw.out, f_rounded.out, {}, "out"));
  EXPECT_TRUE(twin::close(f_raw.lse, f_rounded.lse, {}, "lse"));
  const Result b_raw = cuda_backward(raw, f_raw, AttentionPrecision::bf16);
  const Result b_rounded = cuda_backward(rounded, f_raw, AttentionPrecision::bf16);
  EXPECT_TRUE(twin::close(b_raw.dq, b_rounded.dq, {}, "dq"));
  EXPECT_TRUE(twin::close(b_raw.dk, b_rounded.dk, {}, "dk"));
  EXPECT_TRUE(twin::close(b_raw.dv, b_rounded.dv, {}, "dv"));
}

TEST(IntervalAttentionTwinArgs, HeadDimOutOfRangeThrows) {
  Problem p = tiny_mapet();
  const auto s0 = p.shape(p.real_end.data(), p.mask_start.data());
  for (int64_t d : {0, 129}) {
    auto s = s0;
    s.d = d;
    EXPECT_THROW(cuda::interval_attention_forward(s, {}, {}, {}, {}, nullptr, AttentionPrecision::f32),
                 std::invalid_argument);
  }
}

}  // namespace
}  // namespace mapet::test
