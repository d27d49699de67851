// cuda::scaled_residual_{forward,backward} (kernels/cuda/residual.cu) against cpu::: the block's
// out = x + s[sample] * gamma * y, with layer scale and drop path, over B samples of S x D.
#include "kernels/cuda/residual.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/residual.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(residual) {
  const int64_t rows = b.shape().B, dim = b.shape().D, row_len = b.shape().S() * dim, n = rows * row_len;
  const std::vector<float> x = b.randn(n), y = b.randn(n), dout = b.randn(n), gamma = b.randn(dim, 0.1f);
  std::vector<float> scale(rows);
  for (int64_t r = 0; r < rows; ++r) scale[r] = r % 10 == 3 ? 0.0f : 1.0f / 0.9f;  // drop path 0.1
  std::vector<float> out(n), dy(n), dgamma(dim);
  cpu::scaled_residual_forward(x.data(), y.data(), gamma.data(), scale.data(), out.data(), rows, row_len, dim);
  cpu::scaled_residual_backward(dout.data(), y.data(), gamma.data(), scale.data(), dy.data(), dgamma.data(), rows,
                                row_len, dim);

  twin::Case c;
  const float *d_x = c.input(x), *d_y = c.input(y), *d_dout = c.input(dout), *d_g = c.input(gamma);
  const float* d_s = c.input(scale);
  float *d_out = c.output<float>(n), *d_dy = c.output<float>(n), *d_dg = c.output<float>(dim);
  auto fwd = [&] { cuda::scaled_residual_forward(d_x, d_y, d_g, d_s, d_out, rows, row_len, dim); };
  auto bwd = [&] { cuda::scaled_residual_backward(d_dout, d_y, d_g, d_s, d_dy, d_dg, rows, row_len, dim); };
  b.validate(c, [&] { fwd(); bwd(); });
  b.expect_close(c.read(d_out), out, {1e-6, 1e-7}, "out");
  b.expect_close(c.read(d_dy), dy, {1e-6, 1e-7}, "dy");
  b.expect_close(c.read(d_dg), dgamma, {1e-5, 1e-5 * n / dim / 64.0}, "dgamma (sums over B*S rows)");
  b.time("scaled_residual_forward", fwd, {.bytes = 4.0 * 3 * n});       // read x, y, write out
  b.time("scaled_residual_backward", bwd, {.bytes = 4.0 * (3 * n + dim)});  // read dout, y, write dy, dgamma
}
