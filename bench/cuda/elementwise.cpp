// The element-wise kernels (kernels/cuda/elementwise.cu) against cpu::, at the shapes the model
// gives them: residual adds over B*S x D, pos_embed added to each of B images (T x D), a
// per-channel gamma over B*S rows, and its gradient (the sum over rows).
#include "kernels/cuda/elementwise.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/elementwise.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(elementwise) {
  const int64_t D = b.shape().D, n = b.shape().rows() * D, n_pos = b.shape().B * b.shape().T * D;
  const int64_t T = b.shape().T, S = b.shape().S();
  const float alpha = 0.75f;
  const std::vector<float> a = b.randn(n), x = b.randn(n), gamma = b.randn(D), pos = b.randn(T * D);
  std::vector<float> add(n), mul(n), scaled(n), plus_pos(n_pos), times_gamma(n), dgamma(D), acc = a, runs = a;
  cpu::add(a.data(), x.data(), add.data(), n);
  cpu::mul(a.data(), x.data(), mul.data(), n);
  cpu::scale(x.data(), alpha, scaled.data(), n);
  cpu::add_broadcast(a.data(), pos.data(), plus_pos.data(), n_pos, T * D);
  cpu::mul_broadcast(a.data(), gamma.data(), times_gamma.data(), n, D);
  cpu::mul_broadcast_grad_b(x.data(), a.data(), dgamma.data(), n, D);
  cpu::add_inplace(acc.data(), x.data(), n);
  // The first T rows of each image's S-row sequence get T rows of x (the real tokens' share).
  cpu::add_inplace_runs(runs.data(), x.data(), b.shape().B, T * D, S * D);

  twin::Case c;
  const float *d_a = c.input(a), *d_x = c.input(x), *d_g = c.input(gamma), *d_pos = c.input(pos);
  float *d_add = c.output<float>(n), *d_mul = c.output<float>(n), *d_scaled = c.output<float>(n);
  float *d_plus = c.output<float>(n_pos), *d_times = c.output<float>(n), *d_dg = c.output<float>(D);
  float *d_acc = c.inout(a), *d_runs = c.inout(a);
  const int64_t B = b.shape().B;
  b.validate(c, [&] {
    cuda::add(d_a, d_x, d_add, n);
    cuda::mul(d_a, d_x, d_mul, n);
    cuda::scale(d_x, alpha, d_scaled, n);
    cuda::add_broadcast(d_a, d_pos, d_plus, n_pos, T * D);
    cuda::mul_broadcast(d_a, d_g, d_times, n, D);
    cuda::mul_broadcast_grad_b(d_x, d_a, d_dg, n, D);
    cuda::add_inplace(d_acc, d_x, n);
    cuda::add_inplace_runs(d_runs, d_x, B, T * D, S * D);
  });
  // One rounding per element, the same on both sides: bit for bit. The gradient sums rows in another order.
  b.expect_close(c.read(d_add), add, {}, "add (bit for bit)");
  b.expect_close(c.read(d_mul), mul, {}, "mul (bit for bit)");
  b.expect_close(c.read(d_scaled), scaled, {}, "scale (bit for bit)");
  b.expect_close(c.read(d_plus), plus_pos, {}, "add_broadcast (bit for bit)");
  b.expect_close(c.read(d_times), times_gamma, {}, "mul_broadcast (bit for bit)");
  b.expect_close(c.read(d_dg), dgamma, {1e-5, 1e-5 * n / D / 64.0}, "mul_broadcast_grad_b (sums over rows)");
  b.expect_close(c.read(d_acc), acc, {}, "add_inplace (bit for bit)");
  b.expect_close(c.read(d_runs), runs, {}, "add_inplace_runs (bit for bit)");
  b.time("add", [&] { cuda::add(d_a, d_x, d_add, n); }, {.bytes = 12.0 * n});
  b.time("add_broadcast (pos_embed)", [&] { cuda::add_broadcast(d_a, d_pos, d_plus, n_pos, T * D); },
         {.bytes = 8.0 * n_pos + 4.0 * T * D});
  b.time("mul_broadcast (gamma)", [&] { cuda::mul_broadcast(d_a, d_g, d_times, n, D); }, {.bytes = 8.0 * n + 4.0 * D});
  b.time("mul_broadcast_grad_b", [&] { cuda::mul_broadcast_grad_b(d_x, d_a, d_dg, n, D); }, {.bytes = 8.0 * n + 4.0 * D});
  b.time("add_inplace", [&] { cuda::add_inplace(d_acc, d_x, n); }, {.bytes = 12.0 * n});
}
