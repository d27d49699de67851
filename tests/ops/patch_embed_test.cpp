// patch_embed (engine/ops/patch_embed.cpp) against a direct convolution with
// stride = kernel = patch, gradients for images, weight and bias.
#include "engine/ops/patch_embed.h"

#include "tests/test_util.h"

namespace mapet {
namespace {

// out[b, py * gw + px, d] = bias[d] + sum_{c, ky, kx} img[b, c, py p + ky, px p + kx] w[d, c, ky, kx]
std::vector<double> conv_ref(const std::vector<std::vector<double>>& in, const Shape& img, int64_t D, int64_t p) {
  const auto &x = in[0], &w = in[1], &bias = in[2];
  const int64_t B = img[0], C = img[1], H = img[2], W = img[3], gh = H / p, gw = W / p;
  std::vector<double> y(static_cast<size_t>(B * gh * gw * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t py = 0; py < gh; ++py)
      for (int64_t px = 0; px < gw; ++px)
        for (int64_t d = 0; d < D; ++d) {
          double s = bias[d];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ky = 0; ky < p; ++ky)
              for (int64_t kx = 0; kx < p; ++kx)
                s += x[((b * C + c) * H + py * p + ky) * W + px * p + kx] * w[((d * C + c) * p + ky) * p + kx];
          y[((b * gh + py) * gw + px) * D + d] = s;
        }
  return y;
}

TEST(PatchEmbed, GradientsForImagesWeightAndBias) {
  const Shape img{2, 3, 6, 9};
  const int64_t D = 5, p = 3;
  uint64_t s = test::fresh_seed();
  test::check_op([](const std::vector<Var>& v) { return ops::patch_embed(v[0], v[1], v[2], 3); },
                 [&](const auto& x) { return conv_ref(x, img, D, p); },
                 {test::randn(img, s), test::randn({D, 3, p, p}, s + 1), test::randn({D}, s + 2)}, 1e-5, 1e-5, 1e-4,
                 1e-5);
}

TEST(PatchEmbed, LargerForwardAndBadShapes) {
  const Shape img{2, 3, 26, 39};
  const int64_t D = 67, p = 13;
  uint64_t s = test::fresh_seed();
  Tensor x = test::randn(img, s), w = test::randn({D, 3, p, p}, s + 1), b = test::randn({D}, s + 2);
  Var y = ops::patch_embed(Var(x), Var(w), Var(b), p);
  EXPECT_EQ(y.shape(), (Shape{2, 6, D}));
  EXPECT_TRUE(test::all_close(
      y.value(), conv_ref({test::to_double(x), test::to_double(w), test::to_double(b)}, img, D, p), 1e-5, 1e-4));
  EXPECT_THROW(ops::patch_embed(Var(test::randn({2, 3, 27, 39}, s)), Var(w), Var(b), p), Error);
  EXPECT_THROW(ops::patch_embed(Var(x), Var(test::randn({D, 2, p, p}, s)), Var(b), p), Error);
}

}  // namespace
}  // namespace mapet
