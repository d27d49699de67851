// cuda::conv2d_nhwc, avg_pool_nhwc and add_relu against cpu:: (tests/kernels/twin.h).
// The convolution's twin is the float64 reference (the CPU's fast path is
// oneDNN): under simt it is im2col + the own GEMM, on a GPU cuDNN; both sum
// in f32 in their own order, so the tolerance is f32 rounding over a patch of
// up to 3 * 3 * 24 products (relative 1e-5 of the size of the terms).
#include "kernels/cuda/conv2d.cuh"

#include "kernels/cpu/conv2d.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n, float std = 1.0f) { return test::randn({n}, test::fresh_seed(), std).to_vector(); }

struct ConvCase {
  int64_t n, h, w, c_in, c_out, k, stride, pad;
  bool bias, relu;
};

class Conv2dTwin : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dTwin, ForwardMatchesTheReference) {
  const ConvCase p = GetParam();
  cpu::ConvGeometry g;
  g.c_in = p.c_in, g.c_out = p.c_out, g.kh = p.k, g.kw = p.k, g.stride = p.stride, g.pad = p.pad;
  const int64_t oh = g.out_h(p.h), ow = g.out_w(p.w), ny = p.n * oh * ow * p.c_out;
  std::vector<float> x = randn(p.n * p.h * p.w * p.c_in), w_oikk = randn(p.c_out * g.patch_size(), 0.3f),
                     bias = randn(p.c_out);
  // PyTorch's [c_out, c_in, kh, kw] for the reference, KRSC [c_out, kh, kw, c_in] for the kernel.
  std::vector<float> w_krsc(w_oikk.size());
  for (int64_t o = 0; o < p.c_out; ++o)
    for (int64_t i = 0; i < p.c_in; ++i)
      for (int64_t ky = 0; ky < p.k; ++ky)
        for (int64_t kx = 0; kx < p.k; ++kx)
          w_krsc[((o * p.k + ky) * p.k + kx) * p.c_in + i] = w_oikk[((o * p.c_in + i) * p.k + ky) * p.k + kx];
  std::vector<float> want(ny);
  cpu::conv2d_nhwc_reference(g, p.n, p.h, p.w, x.data(), w_oikk.data(), p.bias ? bias.data() : nullptr, p.relu,
                             want.data());

  test::twin::Case c;
  const float *d_x = c.input(x), *d_w = c.input(w_krsc), *d_b = p.bias ? c.input(bias) : nullptr;
  float* d_y = c.output<float>(ny);
  c.run([&] { cuda::conv2d_nhwc(g, p.n, p.h, p.w, d_x, d_w, d_b, p.relu, d_y); });
  const std::vector<float> got = c.read(d_y);
  EXPECT_TRUE(test::twin::close(got, want, {1e-5, 1e-5}, "conv2d_nhwc"));
  if (p.relu)
    for (float v : got) ASSERT_GE(v, 0.0f);
}

// A 1x1 convolution (a plain GEMM), 3x3 with padding (the borders read
// zeros), a strided 3x3 stem, an even 2x2 kernel without padding, a 7x5 image
// smaller than needed for a whole last window at stride 2.
INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dTwin,
                         ::testing::Values(ConvCase{2, 5, 6, 24, 40, 1, 1, 0, true, false},
                                           ConvCase{3, 7, 7, 5, 9, 3, 1, 1, true, true},
                                           ConvCase{2, 9, 8, 3, 6, 3, 2, 1, true, true},
                                           ConvCase{1, 6, 6, 4, 7, 2, 1, 0, false, true},
                                           ConvCase{2, 7, 5, 6, 3, 3, 2, 0, false, false}),
                         [](const auto& info) {
                           const ConvCase& p = info.param;
                           return "n" + std::to_string(p.n) + "_" + std::to_string(p.h) + "x" + std::to_string(p.w) +
                                  "_c" + std::to_string(p.c_in) + "to" + std::to_string(p.c_out) + "_k" +
                                  std::to_string(p.k) + "s" + std::to_string(p.stride) + "p" + std::to_string(p.pad) +
                                  (p.bias ? "_bias" : "") + (p.relu ? "_relu" : "");
                         });

TEST(Conv2dTwin, AvgPoolIsTheCpusBitForBit) {
  // 9x7 at k = 2 and 3 (rows and columns past the last whole window dropped), 13 channels.
  for (int64_t k : {2, 3}) {
    const int64_t n = 2, h = 9, w = 7, ch = 13, ny = n * (h / k) * (w / k) * ch;
    const std::vector<float> x = randn(n * h * w * ch);
    std::vector<float> want(ny);
    cpu::avg_pool_nhwc(n, h, w, ch, k, x.data(), want.data());
    test::twin::Case c;
    const float* d_x = c.input(x);
    float* d_y = c.output<float>(ny);
    c.run([&] { cuda::avg_pool_nhwc(n, h, w, ch, k, d_x, d_y); });
    EXPECT_TRUE(test::twin::close(c.read(d_y), want, {}, "avg_pool_nhwc k=" + std::to_string(k)));
  }
}

TEST(Conv2dTwin, AddReluIsTheCpusBitForBit) {
  const int64_t n = 1037;
  const std::vector<float> y0 = randn(n), r = randn(n);
  std::vector<float> want = y0;
  cpu::add_relu(want.data(), r.data(), n);
  test::twin::Case c;
  float* d_y = c.inout(y0);
  const float* d_r = c.input(r);
  c.run([&] { cuda::add_relu(d_y, d_r, n); });
  EXPECT_TRUE(test::twin::close(c.read(d_y), want, {}, "add_relu"));
}

}  // namespace
}  // namespace mapet
