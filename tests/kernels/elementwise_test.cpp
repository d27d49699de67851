// cuda:: element-wise kernels against cpu:: (tests/kernels/twin.h): one
// exactly rounded operation per output, so bit for bit; mul_broadcast_grad_b
// is a column sum added in another order than the CPU's, within rounding.
#include "kernels/cuda/elementwise.cuh"

#include "kernels/cpu/elementwise.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n) { return test::randn({n}, test::fresh_seed()).to_vector(); }

// 1 and 3 (only the scalar tail), 1029 (float4s and a tail), and the same
// sizes one float past a 16-byte boundary (the scalar kernel).
TEST(ElementwiseTwin, FlatOpsMatchCpuBitForBit) {
  for (int64_t n : {1, 3, 1029}) {
    for (int64_t skew : {0, 1}) {
      const std::vector<float> a = randn(n + skew), b = randn(n + skew);
      const float alpha = -0.37f;
      std::vector<float> sum(n), prod(n), scaled(n), acc(a.begin() + skew, a.end());
      cpu::add(a.data() + skew, b.data() + skew, sum.data(), n);
      cpu::mul(a.data() + skew, b.data() + skew, prod.data(), n);
      cpu::scale(a.data() + skew, alpha, scaled.data(), n);
      cpu::add_inplace(acc.data(), b.data() + skew, n);
      test::twin::Case c;
      const float *d_a = c.input(a) + skew, *d_b = c.input(b) + skew;
      float *d_sum = c.output<float>(n + skew) + skew, *d_prod = c.output<float>(n), *d_scaled = c.output<float>(n);
      float* d_acc = c.inout(a) + skew;
      c.run([&] {
        cuda::add(d_a, d_b, d_sum, n);
        cuda::mul(d_a, d_b, d_prod, n);
        cuda::scale(d_a, alpha, d_scaled, n);
        cuda::add_inplace(d_acc, d_b, n);
      });
      const std::string at = " (n " + std::to_string(n) + ", skew " + std::to_string(skew) + ")";
      std::vector<float> got_sum = c.read(d_sum - skew);
      got_sum.erase(got_sum.begin(), got_sum.begin() + skew);
      std::vector<float> got_acc = c.read(d_acc - skew);
      got_acc.erase(got_acc.begin(), got_acc.begin() + skew);
      EXPECT_TRUE(test::twin::close(got_sum, sum, {}, "add" + at));
      EXPECT_TRUE(test::twin::close(c.read(d_prod), prod, {}, "mul" + at));
      EXPECT_TRUE(test::twin::close(c.read(d_scaled), scaled, {}, "scale" + at));
      EXPECT_TRUE(test::twin::close(got_acc, acc, {}, "add_inplace" + at));
    }
  }
}

// b of 1, 7 and 384 values repeated 1, 5 and 130 times (more rows than a
// chunk of the column sums: 64).
TEST(ElementwiseTwin, BroadcastOpsMatchCpu) {
  for (auto [reps, n_b] : {std::pair<int64_t, int64_t>{1, 1}, {5, 7}, {130, 7}, {3, 384}}) {
    const int64_t n = reps * n_b;
    const std::vector<float> a = randn(n), b = randn(n_b), dy = randn(n);
    std::vector<float> sum(n), prod(n), db(n_b);
    cpu::add_broadcast(a.data(), b.data(), sum.data(), n, n_b);
    cpu::mul_broadcast(a.data(), b.data(), prod.data(), n, n_b);
    cpu::mul_broadcast_grad_b(dy.data(), a.data(), db.data(), n, n_b);
    test::twin::Case c;
    const float *d_a = c.input(a), *d_b = c.input(b), *d_dy = c.input(dy);
    float *d_sum = c.output<float>(n), *d_prod = c.output<float>(n), *d_db = c.output<float>(n_b);
    c.run([&] {
      cuda::add_broadcast(d_a, d_b, d_sum, n, n_b);
      cuda::mul_broadcast(d_a, d_b, d_prod, n, n_b);
      cuda::mul_broadcast_grad_b(d_dy, d_a, d_db, n, n_b);
    });
    const std::string at = " (" + std::to_string(reps) + "x" + std::to_string(n_b) + ")";
    EXPECT_TRUE(test::twin::close(c.read(d_sum), sum, {}, "add_broadcast" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_prod), prod, {}, "mul_broadcast" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_db), db, {1e-5, 1e-5}, "mul_broadcast_grad_b" + at));
  }
}

// b into a strided region of a (autograd's accumulate of a slice's gradient):
// runs of 1, 5 and 300 values, with a gap between runs.
TEST(ElementwiseTwin, AddInplaceRunsMatchesCpu) {
  for (auto [runs, run, gap] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 0}, {7, 5, 3}, {4, 300, 11}}) {
    const int64_t a_stride = run + gap, n = runs * a_stride;
    const std::vector<float> a = randn(n), b = randn(runs * run);
    std::vector<float> want = a;
    cpu::add_inplace_runs(want.data(), b.data(), runs, run, a_stride);
    test::twin::Case c;
    const float* d_b = c.input(b);
    float* d_a = c.inout(a);
    c.run([&] { cuda::add_inplace_runs(d_a, d_b, runs, run, a_stride); });
    EXPECT_TRUE(test::twin::close(c.read(d_a), want, {},
                                  "add_inplace_runs " + std::to_string(runs) + "x" + std::to_string(run)));
  }
}

}  // namespace
}  // namespace mapet
