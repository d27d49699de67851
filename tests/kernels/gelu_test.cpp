// cuda::{gelu,bias_gelu}_{forward,backward} against cpu:: (tests/kernels/twin.h).
// (This replaces tests/gpu/cuda_kernels_test.cpp's GeluMatchesCpu.)
#include "kernels/cuda/gelu.cuh"

#include "kernels/cpu/gelu.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n, float std = 1.0f) { return test::randn({n}, test::fresh_seed(), std).to_vector(); }

// The per-element math is the same function on both sides; only FMA
// contraction may differ (the CPU's AVX2 build fuses, simt's generic one does
// not): a few 1e-7 absolute, inside erf's own 1.5e-7 error.
constexpr test::twin::Tolerance kElementwise{1e-6, 1e-6};

// n: the float4 body and its scalar tail (n % 4 = 3), a tail only, a mid size;
// offset 1 breaks float4 alignment (the scalar kernel).
class GeluTwin : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(GeluTwin, ForwardAndBackwardMatchCpu) {
  const auto [n, offset] = GetParam();
  std::vector<float> x = randn(n + offset, 3.0f), dy = randn(n + offset);
  std::vector<float> y(n), dx(n);
  cpu::gelu_forward(x.data() + offset, y.data(), n);
  cpu::gelu_backward(x.data() + offset, dy.data() + offset, dx.data(), n);

  test::twin::Case c;
  const float *d_x = c.input(x) + offset, *d_dy = c.input(dy) + offset;
  float *d_y = c.output<float>(n), *d_dx = c.output<float>(n);
  c.run([&] {
    cuda::gelu_forward(d_x, d_y, n);
    cuda::gelu_backward(d_x, d_dy, d_dx, n);
  });
  EXPECT_TRUE(test::twin::close(c.read(d_y), y, kElementwise, "gelu_forward"));
  EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, kElementwise, "gelu_backward"));
}

INSTANTIATE_TEST_SUITE_P(Sizes, GeluTwin,
                         ::testing::Values(std::pair<int64_t, int64_t>{3, 0}, std::pair<int64_t, int64_t>{1003, 0},
                                           std::pair<int64_t, int64_t>{1003, 1},
                                           std::pair<int64_t, int64_t>{100003, 0}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + (info.param.second ? "_unaligned" : "");
                         });

// rows x cols: tiny, a float4 row with a partial second chunk of the bias
// sums, a scalar row, a row wider than a block.
class BiasGeluTwin : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(BiasGeluTwin, ForwardAndBackwardMatchCpu) {
  const auto [rows, cols] = GetParam();
  const int64_t n = rows * cols;
  std::vector<float> x = randn(n, 2.0f), b = randn(cols), dy = randn(n);
  std::vector<float> y(n), dx(n), db(cols);
  cpu::bias_gelu_forward(x.data(), b.data(), y.data(), rows, cols);
  cpu::bias_gelu_backward(x.data(), b.data(), dy.data(), dx.data(), db.data(), rows, cols);

  test::twin::Case c;
  const float *d_x = c.input(x), *d_b = c.input(b), *d_dy = c.input(dy);
  float *d_y = c.output<float>(n), *d_dx = c.output<float>(n), *d_db = c.output<float>(cols);
  c.run([&] {
    cuda::bias_gelu_forward(d_x, d_b, d_y, rows, cols);
    cuda::bias_gelu_backward(d_x, d_b, d_dy, d_dx, d_db, rows, cols);
  });
  EXPECT_TRUE(test::twin::close(c.read(d_y), y, kElementwise, "bias_gelu_forward"));
  EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, kElementwise, "bias_gelu_backward dx"));
  EXPECT_TRUE(test::twin::close(c.read(d_db), db, {1e-5, 1e-5}, "bias_gelu_backward db"));
}

INSTANTIATE_TEST_SUITE_P(Shapes, BiasGeluTwin,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 3}, std::pair<int64_t, int64_t>{67, 36},
                                           std::pair<int64_t, int64_t>{70, 37}, std::pair<int64_t, int64_t>{5, 1100}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "x" + std::to_string(info.param.second);
                         });

}  // namespace
}  // namespace mapet
