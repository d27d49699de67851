// cuda::{gelu,bias_gelu}_{forward,backward} (kernels/cuda/gelu.cu) against cpu::: the MLP's
// hidden activations, B*S rows x hidden.
#include "kernels/cuda/gelu.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/gelu.h"

using namespace mapet;
using namespace mapet::cuda_bench;

// Same function on both sides; only FMA contraction may differ (tests/kernels/gelu_test.cpp).
constexpr twin::Tolerance kElementwise{1e-6, 1e-6};

MAPET_CUDA_BENCH(gelu) {
  const int64_t n = b.shape().rows() * b.shape().hidden;
  const std::vector<float> x = b.randn(n, 3.0f), dy = b.randn(n);
  std::vector<float> y(n), dx(n);
  cpu::gelu_forward(x.data(), y.data(), n);
  cpu::gelu_backward(x.data(), dy.data(), dx.data(), n);

  twin::Case c;
  const float *d_x = c.input(x), *d_dy = c.input(dy);
  float *d_y = c.output<float>(n), *d_dx = c.output<float>(n);
  auto fwd = [&] { cuda::gelu_forward(d_x, d_y, n); };
  auto bwd = [&] { cuda::gelu_backward(d_x, d_dy, d_dx, n); };
  b.validate(c, [&] { fwd(); bwd(); });
  b.expect_close(c.read(d_y), y, kElementwise, "gelu_forward");
  b.expect_close(c.read(d_dx), dx, kElementwise, "gelu_backward");
  b.time("gelu_forward", fwd, {.bytes = 8.0 * n});    // read x, write y
  b.time("gelu_backward", bwd, {.bytes = 12.0 * n});  // read x, dy, write dx
}

MAPET_CUDA_BENCH(bias_gelu) {
  const int64_t rows = b.shape().rows(), cols = b.shape().hidden, n = rows * cols;
  const std::vector<float> x = b.randn(n, 2.0f), bias = b.randn(cols), dy = b.randn(n);
  std::vector<float> y(n), dx(n), db(cols);
  cpu::bias_gelu_forward(x.data(), bias.data(), y.data(), rows, cols);
  cpu::bias_gelu_backward(x.data(), bias.data(), dy.data(), dx.data(), db.data(), rows, cols);

  twin::Case c;
  const float *d_x = c.input(x), *d_b = c.input(bias), *d_dy = c.input(dy);
  float *d_y = c.output<float>(n), *d_dx = c.output<float>(n), *d_db = c.output<float>(cols);
  auto fwd = [&] { cuda::bias_gelu_forward(d_x, d_b, d_y, rows, cols); };
  auto bwd = [&] { cuda::bias_gelu_backward(d_x, d_b, d_dy, d_dx, d_db, rows, cols); };
  b.validate(c, [&] { fwd(); bwd(); });
  b.expect_close(c.read(d_y), y, kElementwise, "bias_gelu_forward");
  b.expect_close(c.read(d_dx), dx, kElementwise, "bias_gelu_backward dx");
  b.expect_close(c.read(d_db), db, {1e-5, 1e-5 * rows / 64.0}, "bias_gelu_backward db (column sums)");
  b.time("bias_gelu_forward", fwd, {.bytes = 4.0 * (2 * n + cols)});  // read x, b, write y
  b.time("bias_gelu_backward", bwd, {.bytes = 4.0 * (3 * n + 2 * cols)});  // read x, dy, b, write dx, db
}
