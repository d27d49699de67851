// cuda::layernorm_{forward,backward} against cpu::layernorm_* (tests/kernels/twin.h).
#include "kernels/cuda/layernorm.cuh"

#include "kernels/cpu/layernorm.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n, float std = 1.0f, float mean = 0.0f) {
  std::vector<float> v = test::randn({n}, test::fresh_seed(), std).to_vector();
  for (float& x : v) x += mean;
  return v;
}

// Shapes: the generic path (dim not a multiple of 4, or wider than the
// register cache), each register-cached width, a row count that leaves a
// partial chunk of the column sums, and a pointer offset that breaks float4
// alignment (generic path on a dim the cached path would take).
struct Shape2 {
  int64_t rows, dim, offset;
};

class LayerNormTwin : public ::testing::TestWithParam<Shape2> {};

TEST_P(LayerNormTwin, ForwardAndBackwardMatchCpu) {
  const auto [rows, dim, offset] = GetParam();
  const int64_t n = rows * dim;
  std::vector<float> x = randn(n + offset, 2.0f, 0.5f), gamma = randn(dim), beta = randn(dim), dy = randn(n + offset);
  const float eps = 1e-6f;

  std::vector<float> y(n), mean(rows), rstd(rows), dx(n), dgamma(dim), dbeta(dim);
  cpu::layernorm_forward(x.data() + offset, gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, dim,
                         eps);
  cpu::layernorm_backward(dy.data() + offset, x.data() + offset, gamma.data(), mean.data(), rstd.data(), dx.data(),
                          dgamma.data(), dbeta.data(), rows, dim);

  test::twin::Case c;
  const float *dx_in = c.input(x) + offset, *dg = c.input(gamma), *db = c.input(beta), *ddy = c.input(dy) + offset;
  float *d_y = c.output<float>(n), *d_mean = c.output<float>(rows), *d_rstd = c.output<float>(rows);
  float *d_dx = c.output<float>(n), *d_dgamma = c.output<float>(dim), *d_dbeta = c.output<float>(dim);
  c.run([&] {
    cuda::layernorm_forward(dx_in, dg, db, d_y, d_mean, d_rstd, rows, dim, eps);
    cuda::layernorm_backward(ddy, dx_in, dg, d_mean, d_rstd, d_dx, d_dgamma, d_dbeta, rows, dim);
  });
  // Sums in a different order than the CPU's: a few ulps on the statistics,
  // more on the column sums over rows (their size grows with rows).
  EXPECT_TRUE(test::twin::close(c.read(d_mean), mean, {1e-5, 1e-6}, "mean"));
  EXPECT_TRUE(test::twin::close(c.read(d_rstd), rstd, {1e-5, 0}, "rstd"));
  EXPECT_TRUE(test::twin::close(c.read(d_y), y, {1e-5, 1e-5}, "y"));
  EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, {1e-4, 1e-5}, "dx"));
  EXPECT_TRUE(test::twin::close(c.read(d_dgamma), dgamma, {1e-5, 1e-4}, "dgamma"));
  EXPECT_TRUE(test::twin::close(c.read(d_dbeta), dbeta, {1e-5, 1e-4}, "dbeta"));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTwin,
                         ::testing::Values(Shape2{1, 3, 0}, Shape2{37, 203, 0}, Shape2{70, 200, 0},
                                           Shape2{9, 388, 0}, Shape2{5, 1000, 0}, Shape2{3, 1100, 0},
                                           Shape2{20, 96, 1}),
                         [](const auto& info) {
                           return std::to_string(info.param.rows) + "x" + std::to_string(info.param.dim) +
                                  (info.param.offset ? "_unaligned" : "");
                         });

}  // namespace
}  // namespace mapet
