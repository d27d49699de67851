// cuda::softmax_{forward,backward} and masked_softmax_inplace (kernels/cuda/softmax.cu) against
// cpu::: the dense attention (engine/ops/attention.cpp) at ViT-S/16 width, B*heads*T rows of T scores,
// the masked form with one mask per sample ([B, 1, T, T], a random fifth of the columns blocked).
#include "kernels/cuda/softmax.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/softmax.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(softmax) {
  const int64_t B = b.shape().B, H = b.shape().heads, T = b.shape().T, rows = B * H * T, n = rows * T;
  const float scale = 0.125f;
  const std::vector<float> x = b.randn(n, 8.0f), dy = b.randn(n);
  std::vector<float> y(n), dx(n);
  cpu::softmax_forward(x.data(), y.data(), rows, T, scale);
  cpu::softmax_backward(y.data(), dy.data(), dx.data(), rows, T, scale);
  std::vector<uint8_t> mask(B * T * T);
  std::mt19937_64 g(b.seed());
  for (uint8_t& m : mask) m = g() % 5 != 0;
  std::vector<float> masked = x;
  cpu::masked_softmax_inplace(masked.data(), mask.data(), B, H, T, T, B, 1);

  twin::Case c;
  const float *d_x = c.input(x), *d_dy = c.input(dy), *d_ytwin = c.input(y);
  const uint8_t* d_mask = c.input(mask);
  float *d_y = c.output<float>(n), *d_dx = c.output<float>(n), *d_m = c.inout(x);
  auto fwd = [&] { cuda::softmax_forward(d_x, d_y, rows, T, scale); };
  auto bwd = [&] { cuda::softmax_backward(d_ytwin, d_dy, d_dx, rows, T, scale); };
  auto msk = [&] { cuda::masked_softmax_inplace(d_m, d_mask, B, H, T, T, B, 1); };
  b.validate(c, [&] { fwd(); bwd(); msk(); });
  // Row sums in another order than the CPU's: a few ulps.
  b.expect_close(c.read(d_y), y, {1e-5, 1e-7}, "softmax_forward");
  b.expect_close(c.read(d_dx), dx, {1e-4, 1e-6}, "softmax_backward");
  b.expect_close(c.read(d_m), masked, {1e-5, 1e-7}, "masked_softmax_inplace");
  b.time("softmax_forward", fwd, {.bytes = 8.0 * n});   // read x, write y
  b.time("softmax_backward", bwd, {.bytes = 12.0 * n});  // read y, dy, write dx
  // In place: it runs on its own output from the second launch on (same work, other values).
  b.time("masked_softmax_inplace", msk, {.bytes = 8.0 * n + 1.0 * B * T * T});
}
