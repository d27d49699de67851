// The GEMM kernels (kernels/cuda/gemm.cu) against their CPU twin
// (kernels/cpu/gemm.h, plus cpu::gelu_forward for the GELU epilogue):
//   gemm_fma         vs cpu::gemm at f32 precision,
//   gemm_tc (f32)    vs cpu::gemm at bf16 precision (both round A and B to bf16),
//   gemm_tc (bf16)   vs cpu::gemm_bf16 on the same bf16 bits.
// The products are exact in f32 either way, so the tolerance only covers the
// order of the f32 sums. Sizes are awkward on purpose (no multiple of the
// 128 x 128 x 32 tiles); odd leading dimensions take the register path of the
// staging, multiples of 8 the cp.async one (with partial chunks at the edges).
#include "kernels/cuda/gemm.cuh"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/gemm.h"
#include "tests/kernels/twin.h"

namespace mapet {
namespace {

namespace twin = test::twin;

enum class Path { fma, tc_f32, tc_bf16 };
const char* name(Path p) { return p == Path::fma ? "gemm_fma" : p == Path::tc_f32 ? "gemm_tc(f32)" : "gemm_tc(bf16)"; }

struct Spec {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  bool shared_b = false;
  bool align8 = false;  // leading dimensions and batch strides multiples of 8 (else odd)
  int pad = 0;          // extra elements per row of A, B and C
  float alpha = 1.0f, beta = 0.0f;
  bool bias = false, gelu = false;
};

std::string describe(const Spec& s, Path p) {
  return std::string(name(p)) + " " + (s.ta ? "T" : "N") + (s.tb ? "T" : "N") + " " + std::to_string(s.m) + "x" +
         std::to_string(s.n) + "x" + std::to_string(s.k) + " batch " + std::to_string(s.batch) +
         (s.shared_b ? " shared B" : "") + (s.bias ? " +bias" : "") + (s.gelu ? " +gelu" : "");
}

int64_t ld_of(int64_t cols, const Spec& s) {
  const int64_t ld = cols + s.pad;
  return s.align8 ? (ld + 7) / 8 * 8 : ld;
}
int64_t stride_of(int64_t rows, int64_t ld, const Spec& s) { return s.batch > 1 ? rows * ld + (s.align8 ? 8 : 5) : 0; }

std::vector<float> uniform(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

cpu::GemmShape to_cpu(const cuda::GemmShape& s) {
  cpu::GemmShape t;
  t.trans_a = s.trans_a, t.trans_b = s.trans_b, t.m = s.m, t.n = s.n, t.k = s.k;
  t.lda = s.lda, t.ldb = s.ldb, t.ldc = s.ldc, t.batch = s.batch;
  t.stride_a = s.stride_a, t.stride_b = s.stride_b, t.stride_c = s.stride_c;
  return t;
}

// The CPU twin on one OpenMP thread: the problems are small, and idle OpenMP
// workers spin for a while after each parallel region, taking the cores from
// the simt threads that run next.
struct CpuTwinGuard {
  cpu::GemmPrecision precision = cpu::gemm_precision();
  int threads = omp_get_max_threads();
  CpuTwinGuard() { omp_set_num_threads(1); }
  ~CpuTwinGuard() {
    cpu::set_gemm_precision(precision);
    omp_set_num_threads(threads);
  }
};

void check(const Spec& sp, Path path, uint64_t seed = 1) {
  SCOPED_TRACE(describe(sp, path));
  cuda::GemmShape s;
  s.trans_a = sp.ta, s.trans_b = sp.tb, s.m = sp.m, s.n = sp.n, s.k = sp.k, s.batch = sp.batch;
  const int64_t a_rows = sp.ta ? sp.k : sp.m, b_rows = sp.tb ? sp.n : sp.k;
  s.lda = ld_of(sp.ta ? sp.m : sp.k, sp), s.ldb = ld_of(sp.tb ? sp.k : sp.n, sp), s.ldc = ld_of(sp.n, sp);
  s.stride_a = stride_of(a_rows, s.lda, sp), s.stride_c = stride_of(sp.m, s.ldc, sp);
  s.stride_b = sp.shared_b ? 0 : stride_of(b_rows, s.ldb, sp);
  const int64_t nb = std::max<int64_t>(sp.batch, 1);
  const std::vector<float> a = uniform(static_cast<size_t>(std::max(s.stride_a * nb, a_rows * s.lda)), seed);
  const std::vector<float> b = uniform(static_cast<size_t>(std::max(s.stride_b * nb, b_rows * s.ldb)), seed + 1);
  const std::vector<float> c0 = uniform(static_cast<size_t>(std::max(s.stride_c * nb, sp.m * s.ldc)), seed + 2);
  const std::vector<float> bias = uniform(static_cast<size_t>(sp.n), seed + 3);
  const float* bias_p = sp.bias ? bias.data() : nullptr;

  // The CPU twin; GELU after it, row by row (C's rows may be padded).
  std::vector<float> want = c0;
  std::vector<uint16_t> a16(a.size()), b16(b.size());
  {
    CpuTwinGuard guard;
    cpu::to_bf16(a.data(), a16.data(), static_cast<int64_t>(a.size()));
    cpu::to_bf16(b.data(), b16.data(), static_cast<int64_t>(b.size()));
    cpu::set_gemm_precision(path == Path::tc_f32 ? cpu::GemmPrecision::bf16 : cpu::GemmPrecision::f32);
    if (path == Path::tc_bf16)
      cpu::gemm_bf16(to_cpu(s), a16.data(), b16.data(), want.data(), sp.alpha, sp.beta, bias_p);
    else
      cpu::gemm(to_cpu(s), a.data(), b.data(), want.data(), sp.alpha, sp.beta, bias_p);
    if (sp.gelu)
      for (int64_t z = 0; z < sp.batch; ++z)
        for (int64_t i = 0; i < sp.m; ++i) {
          float* row = want.data() + z * s.stride_c + i * s.ldc;
          cpu::gelu_forward(row, row, sp.n);
        }
  }

  // The kernel. C starts as c0 (its padding must stay c0), or as NaN when it is dense and beta = 0.
  twin::Case tc;
  const bool dense_c = sp.beta == 0.0f && s.ldc == sp.n && (sp.batch == 1 || s.stride_c == sp.m * sp.n);
  float* dc = dense_c ? tc.output<float>(c0.size()) : tc.inout(c0);
  const float* dbias = sp.bias ? tc.input(bias) : nullptr;
  const cuda::GemmEpilogue e{sp.alpha, sp.beta, dbias, sp.gelu};
  if (path == Path::tc_bf16) {
    const uint16_t* da = tc.input(a16);
    const uint16_t* db = tc.input(b16);
    tc.run([&] { cuda::gemm_tc(s, da, db, dc, e); });
  } else {
    const float* da = tc.input(a);
    const float* db = tc.input(b);
    tc.run([&] { path == Path::fma ? cuda::gemm_fma(s, da, db, dc, e) : cuda::gemm_tc(s, da, db, dc, e); });
  }

  // |error| <= (k + 4) u * (sum |alpha a b| + |beta c| + |bias|) per element: the two summation orders
  // (u = 2^-24); inputs in [-1, 1], so the sum is at most |alpha| k + |beta| + 1.
  const double scale = std::fabs(sp.alpha) * static_cast<double>(sp.k) + std::fabs(sp.beta) + 1.0;
  const twin::Tolerance tol{1e-6, static_cast<double>(sp.k + 4) * 0x1p-24 * scale};
  EXPECT_TRUE(twin::close(tc.read(dc), want, tol, describe(sp, path)));
}

constexpr Path kAll[] = {Path::fma, Path::tc_f32, Path::tc_bf16};

TEST(GemmTwin, EveryTransposeAt37x70x53) {
  for (Path p : kAll)
    for (int t = 0; t < 4; ++t) check({.ta = (t & 1) != 0, .tb = (t & 2) != 0, .m = 37, .n = 70, .k = 53}, p);
}

TEST(GemmTwin, BiasAndGeluAt130x65x129) {
  for (Path p : kAll) {
    check({.m = 130, .n = 65, .k = 129, .bias = true}, p);
    check({.tb = true, .m = 130, .n = 65, .k = 129, .pad = 3, .bias = true, .gelu = true}, p);
  }
}

TEST(GemmTwin, AlphaBetaAndPaddedRows) {
  for (Path p : kAll) check({.ta = true, .m = 45, .n = 33, .k = 70, .pad = 2, .alpha = 0.5f, .beta = -1.5f, .bias = true}, p);
}

// The linear layer's shape: one weight B (transposed) for every batch item.
TEST(GemmTwin, BatchWithSharedB) {
  for (Path p : kAll) {
    check({.tb = true, .m = 20, .n = 36, .k = 44, .batch = 3, .shared_b = true, .bias = true, .gelu = true}, p);
    check({.ta = true, .m = 24, .n = 17, .k = 40, .batch = 2, .align8 = true}, p);
  }
}

// Leading dimensions that are multiples of 8: bf16 operands go through cp.async,
// zero-filled where a 16-byte chunk runs past K (52) or the block past M/N.
TEST(GemmTwin, AlignedRowsTakeCpAsync) {
  for (int t = 0; t < 4; ++t) {
    check({.ta = (t & 1) != 0, .tb = (t & 2) != 0, .m = 72, .n = 44, .k = 52, .align8 = true}, Path::tc_bf16);
    check({.ta = (t & 1) != 0, .tb = (t & 2) != 0, .m = 72, .n = 44, .k = 52, .align8 = true}, Path::tc_f32);
  }
}

TEST(GemmTwin, MidSize) {
  check({.tb = true, .m = 320, .n = 264, .k = 200, .bias = true, .gelu = true}, Path::tc_bf16);
  check({.m = 300, .n = 257, .k = 200, .bias = true}, Path::fma);
}

TEST(GemmTwin, EmptySum) {  // k = 0: C = beta C + bias
  for (Path p : kAll) check({.m = 5, .n = 9, .k = 0, .beta = 2.0f, .bias = true}, p);
}

// The twins' own signatures (2-D forms) give the same as the explicit calls.
TEST(GemmTwin, PlainForms) {
  const int64_t m = 19, n = 23, k = 29;
  const std::vector<float> a = uniform(m * k, 5), b = uniform(n * k, 6), bias = uniform(n, 7);
  std::vector<uint16_t> a16(a.size()), b16(b.size());
  CpuTwinGuard guard;
  cpu::to_bf16(a.data(), a16.data(), m * k);
  cpu::to_bf16(b.data(), b16.data(), n * k);
  std::vector<float> want(m * n), want16(m * n);
  cpu::gemm(false, true, m, n, k, a.data(), b.data(), want.data(), 0.0f, bias.data());
  cpu::gemm_bf16(false, true, m, n, k, a16.data(), b16.data(), want16.data(), 0.0f, bias.data());
  twin::Case tc;
  const float *da = tc.input(a), *db = tc.input(b), *dbias = tc.input(bias);
  const uint16_t *da16 = tc.input(a16), *db16 = tc.input(b16);
  float* c = tc.output<float>(m * n);
  float* c16 = tc.output<float>(m * n);
  tc.run([&] {
    cuda::gemm(false, true, m, n, k, da, db, c, 0.0f, dbias);
    cuda::gemm_bf16(false, true, m, n, k, da16, db16, c16, 0.0f, dbias);
  });
  const twin::Tolerance tol{1e-6, (k + 4) * 0x1p-24 * (k + 1)};
  EXPECT_TRUE(twin::close(tc.read(c), want, tol, "cuda::gemm"));
  EXPECT_TRUE(twin::close(tc.read(c16), want16, tol, "cuda::gemm_bf16"));
}

}  // namespace
}  // namespace mapet
