// cuda::layernorm_{forward,backward} (kernels/cuda/layernorm.cu) against cpu::layernorm_*:
// the pre-norms of every block, over all B*S sequence rows at width D.
#include "kernels/cuda/layernorm.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/layernorm.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(layernorm) {
  const int64_t rows = b.shape().rows(), dim = b.shape().D, n = rows * dim;
  const float eps = 1e-6f;
  const std::vector<float> x = b.randn(n, 2.0f, 0.5f), gamma = b.randn(dim), beta = b.randn(dim), dy = b.randn(n);
  std::vector<float> y(n), mean(rows), rstd(rows), dx(n), dgamma(dim), dbeta(dim);
  cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, dim, eps);
  cpu::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dgamma.data(),
                          dbeta.data(), rows, dim);

  twin::Case c;
  const float *d_x = c.input(x), *d_g = c.input(gamma), *d_b = c.input(beta), *d_dy = c.input(dy);
  float *d_y = c.output<float>(n), *d_mean = c.output<float>(rows), *d_rstd = c.output<float>(rows);
  float *d_dx = c.output<float>(n), *d_dg = c.output<float>(dim), *d_db = c.output<float>(dim);
  auto fwd = [&] { cuda::layernorm_forward(d_x, d_g, d_b, d_y, d_mean, d_rstd, rows, dim, eps); };
  auto bwd = [&] { cuda::layernorm_backward(d_dy, d_x, d_g, d_mean, d_rstd, d_dx, d_dg, d_db, rows, dim); };
  b.validate(c, [&] { fwd(); bwd(); });
  // Tolerances of tests/kernels/layernorm_test.cpp: sums in another order.
  b.expect_close(c.read(d_y), y, {1e-5, 1e-5}, "y");
  b.expect_close(c.read(d_mean), mean, {1e-5, 1e-6}, "mean");
  b.expect_close(c.read(d_rstd), rstd, {1e-5, 0}, "rstd");
  b.expect_close(c.read(d_dx), dx, {1e-4, 1e-5}, "dx");
  b.expect_close(c.read(d_dg), dgamma, {1e-5, 1e-4 * rows / 64.0}, "dgamma (column sums over rows)");
  b.expect_close(c.read(d_db), dbeta, {1e-5, 1e-4 * rows / 64.0}, "dbeta (column sums over rows)");

  // Bytes: forward reads x, gamma, beta and writes y, mean, rstd; backward reads dy, x, gamma, mean, rstd
  // and writes dx, dgamma, dbeta (the column-sum partials, rows/64 x D, not counted).
  b.time("layernorm_forward", fwd, {.bytes = 4.0 * (2 * n + 2 * dim + 2 * rows)});
  b.time("layernorm_backward", bwd, {.bytes = 4.0 * (3 * n + 3 * dim + 2 * rows)});
}
