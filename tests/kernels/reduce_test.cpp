// cuda::sum_rows, sum_rows_to_bf16, sum_squares, mean_dim and argmax_rows against cpu:: (tests/kernels/twin.h).
#include "kernels/cuda/reduce.cuh"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "kernels/cpu/reduce.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n) { return test::randn({n}, test::fresh_seed()).to_vector(); }

// rows x cols: tiny; a partial last chunk of 64 rows and a column tile of
// 128 plus a few; three chunks; no rows (the sums are zeros).
class SumRowsTwin : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(SumRowsTwin, MatchesCpu) {
  const auto [rows, cols] = GetParam();
  std::vector<float> x = randn(rows * cols), out(cols), out2(cols);
  std::vector<uint16_t> x16(rows * cols);
  cpu::sum_rows(x.data(), out.data(), rows, cols);
  cpu::sum_rows_to_bf16(x.data(), out2.data(), rows, cols, x16.data());
  test::twin::Case c;
  const float* d_x = c.input(x);
  float *d_out = c.output<float>(cols), *d_out2 = c.output<float>(cols);
  uint16_t* d_x16 = c.output<uint16_t>(rows * cols);
  c.run([&] {
    cuda::sum_rows(d_x, d_out, rows, cols);
    cuda::sum_rows_to_bf16(d_x, d_out2, rows, cols, d_x16);
  });
  // The same order within a chunk of 64 rows, another across chunks.
  EXPECT_TRUE(test::twin::close(c.read(d_out), out, {1e-6, 1e-5}, "sum_rows"));
  EXPECT_TRUE(test::twin::close(c.read(d_out2), out2, {1e-6, 1e-5}, "sum_rows_to_bf16 sums"));
  EXPECT_TRUE(test::twin::close(c.read(d_x16), x16, {}, "sum_rows_to_bf16 bf16"));  // bit for bit
}

INSTANTIATE_TEST_SUITE_P(Shapes, SumRowsTwin,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 3}, std::pair<int64_t, int64_t>{70, 131},
                                           std::pair<int64_t, int64_t>{150, 9}, std::pair<int64_t, int64_t>{0, 5}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "x" + std::to_string(info.param.second);
                         });

// Arrays: one value, one tile of 16384 plus one, an empty one, an unaligned
// one (offset 1: the scalar path), and a mid one.
TEST(SumSquaresTwin, MatchesCpu) {
  test::twin::Case c;
  std::vector<std::vector<float>> host;
  std::vector<std::pair<const float*, int64_t>> on_cpu, on_device;
  for (auto [n, offset] : {std::pair<int64_t, int64_t>{1, 0}, {16385, 0}, {0, 0}, {333, 1}, {40000, 0}}) {
    host.push_back(randn(n + offset));
    on_cpu.push_back({host.back().data() + offset, n});
    on_device.push_back({c.input(host.back()) + offset, n});
  }
  const double want = cpu::sum_squares(on_cpu);
  double got = -1.0;
  c.run([&] { got = cuda::sum_squares(on_device); });
  // Double sums of float squares in another order: far below float precision.
  EXPECT_NEAR(got, want, 1e-12 * want);
  EXPECT_EQ(cuda::sum_squares({}), 0.0);
}

// The mean over tokens (ViT average pool) and its backward, bit for bit; the
// CPU twin is itself ops::mean's value and gradient. One token; 37 tokens of
// 5 channels; 196 tokens of 130 channels (more outputs than a block).
TEST(MeanDimTwin, ForwardAndBackwardMatchCpuAndOpsMean) {
  for (auto [outer, n, inner] : {std::tuple<int64_t, int64_t, int64_t>{2, 1, 3}, {3, 37, 5}, {2, 196, 130}}) {
    const std::vector<float> x = randn(outer * n * inner), g = randn(outer * inner);
    std::vector<float> y(outer * inner), dx(outer * n * inner);
    cpu::mean_dim(x.data(), y.data(), outer, n, inner);
    cpu::mean_dim_backward(g.data(), dx.data(), outer, n, inner);
    Var xv(Tensor::from_vector(x, {outer, n, inner}), true);
    const Var m = ops::mean(xv, 1);
    autograd::backward(ops::sum(ops::mul(m, Var(Tensor::from_vector(g, {outer, inner})))));
    EXPECT_EQ(m.value().to_vector(), y) << "cpu::mean_dim is not ops::mean";
    EXPECT_EQ(xv.grad().to_vector(), dx) << "cpu::mean_dim_backward is not ops::mean's gradient";
    test::twin::Case c;
    const float *d_x = c.input(x), *d_g = c.input(g);
    float *d_y = c.output<float>(outer * inner), *d_dx = c.output<float>(outer * n * inner);
    c.run([&] {
      cuda::mean_dim(d_x, d_y, outer, n, inner);
      cuda::mean_dim_backward(d_g, d_dx, outer, n, inner);
    });
    const std::string at = " (" + std::to_string(outer) + "x" + std::to_string(n) + "x" + std::to_string(inner) + ")";
    EXPECT_TRUE(test::twin::close(c.read(d_y), y, {}, "mean" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, {}, "mean backward" + at));
  }
}

// Top-1 indices: random rows (the first largest, as std::max_element), then
// rows built to catch the order rules: ties (the lower index wins), NaNs (as
// -inf), -0 against +0 (equal: the first), all -inf, all NaN (index 0), and
// the largest value past the first 256 columns (a block's threads wrap).
TEST(ArgmaxRowsTwin, MatchesCpuAndMaxElement) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int64_t cols : {1, 7, 300, 1031}) {
    const int64_t rows = 9;
    std::vector<float> x = randn(rows * cols);
    std::vector<int64_t> want(rows);
    for (int64_t i = 0; i < 5; ++i)  // rows 0..4: finite random values
      want[i] = std::max_element(x.begin() + i * cols, x.begin() + (i + 1) * cols) - (x.begin() + i * cols);
    auto row = [&](int64_t i) { return x.data() + i * cols; };
    for (int64_t j = 0; j < cols; ++j) {
      row(5)[j] = j % 3 == 2 ? 4.0f : -1.0f;                     // ties at 4: the first is column 2
      row(6)[j] = j % 2 ? nan : -static_cast<float>(j);         // NaNs and a maximum of -0 at column 0
      row(7)[j] = j == cols - 1 ? 0.0f : (j == 0 ? -0.0f : -inf);  // -0 then +0: equal, column 0
      row(8)[j] = nan;                                           // nothing comparable: column 0
    }
    if (cols > 3) want[5] = 2;
    want[6] = 0, want[7] = 0, want[8] = 0;
    if (cols > 300) {  // the row's maximum far out, behind a first occurrence's copy further on
      row(4)[1029] = 50.0f, row(4)[1030] = 50.0f;
      want[4] = 1029;
    }
    std::vector<int64_t> got_cpu(rows);
    cpu::argmax_rows(x.data(), got_cpu.data(), rows, cols);
    EXPECT_EQ(got_cpu, want) << cols << " columns";
    test::twin::Case c;
    const float* d_x = c.input(x);
    int64_t* d_i = c.output<int64_t>(rows);
    c.run([&] { cuda::argmax_rows(d_x, d_i, rows, cols); });
    EXPECT_EQ(c.read(d_i), got_cpu) << cols << " columns";
  }
}

}  // namespace
}  // namespace mapet
