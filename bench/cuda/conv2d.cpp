// cuda::conv2d_nhwc, avg_pool_nhwc and add_relu (kernels/cuda/conv2d.cu) against cpu:: at the shape of a
// CLIP ResNet bottleneck's 3x3 convolution (RN50 stage 1: 56x56, 64 -> 64 channels, padding 1) over B images.
// On a GPU the convolution is cuDNN's (MAPET_CONV=own: im2col + the own GEMM); under simt, im2col + GEMM.
#include "kernels/cuda/conv2d.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/conv2d.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(conv2d) {
  const bool gpu = b.gpu();
  const int64_t n = gpu ? b.shape().B : 2, side = gpu ? 56 : 12, ch = 64;
  cpu::ConvGeometry g;
  g.c_in = ch, g.c_out = ch, g.kh = 3, g.kw = 3, g.stride = 1, g.pad = 1;
  const int64_t nx = n * side * side * ch, ny = nx;
  const std::vector<float> x = b.randn(nx), w_oikk = b.randn(ch * g.patch_size(), 0.05f), bias = b.randn(ch);
  std::vector<float> w_krsc(w_oikk.size());
  for (int64_t o = 0; o < ch; ++o)
    for (int64_t i = 0; i < ch; ++i)
      for (int64_t k = 0; k < 9; ++k) w_krsc[(o * 9 + k) * ch + i] = w_oikk[(o * ch + i) * 9 + k];
  std::vector<float> want(ny), pooled(nx / 4), joined = x;
  cpu::conv2d_nhwc_reference(g, n, side, side, x.data(), w_oikk.data(), bias.data(), true, want.data());
  cpu::avg_pool_nhwc(n, side, side, ch, 2, x.data(), pooled.data());
  cpu::add_relu(joined.data(), want.data(), nx);

  twin::Case c;
  const float *d_x = c.input(x), *d_w = c.input(w_krsc), *d_b = c.input(bias), *d_r = c.input(want);
  float *d_y = c.output<float>(ny), *d_p = c.output<float>(nx / 4), *d_j = c.inout(x);
  auto conv = [&] { cuda::conv2d_nhwc(g, n, side, side, d_x, d_w, d_b, true, d_y); };
  auto pool = [&] { cuda::avg_pool_nhwc(n, side, side, ch, 2, d_x, d_p); };
  auto join = [&] { cuda::add_relu(d_j, d_r, nx); };
  b.validate(c, [&] { conv(); pool(); join(); });
  b.expect_close(c.read(d_y), want, {1e-5, 1e-5}, "conv2d_nhwc (f32, 576 products a sum)");
  b.expect_close(c.read(d_p), pooled, {}, "avg_pool_nhwc");
  b.expect_close(c.read(d_j), joined, {}, "add_relu");
  b.time("conv2d_nhwc 3x3", conv, {.flops = 2.0 * ny * g.patch_size(), .bytes = 4.0 * (nx + ny + w_krsc.size())});
  b.time("avg_pool_nhwc k=2", pool, {.bytes = 4.0 * (nx + nx / 4)});
  b.time("add_relu", join, {.bytes = 4.0 * 3 * nx});
}
