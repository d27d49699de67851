// The resampler against (1) the filter definitions evaluated by hand,
// (2) the plain float64 reference, (3) values PIL itself computed.
#include "data/resample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/data/data_test_util.h"
#include "tests/data/pil_golden.h"

namespace mapet::data {
namespace {

uint8_t to_u8(double v) { return static_cast<uint8_t>(std::clamp(std::floor(v + 0.5), 0.0, 255.0)); }

TEST(Resample, FilterValuesMatchTheirDefinitions) {
  // Keys cubic, a = -0.5: 1 at 0; (a+2)|x|^3 - (a+3)|x|^2 + 1 below 1; a(|x|^3 - 5|x|^2 + 8|x| - 4) below 2.
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, 0.5), 0.5625);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, -0.5), 0.5625);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, 1.5), -0.0625);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, 2.0), 0.0);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bicubic, 0.25), 1.5 * 0.015625 - 2.5 * 0.0625 + 1);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bilinear, 0.25), 0.75);
  EXPECT_DOUBLE_EQ(filter_weight(Filter::bilinear, 1.0), 0.0);
}

TEST(Resample, TwoTimesUpscaleOfARowByHand) {
  // A 4 x 1 row upscaled to 8 x 1 (height unchanged): output 2 has center
  // (2 + 0.5) * 0.5 = 1.25, so it reads the pixels centered at 0.5, 1.5, 2.5
  // (distances 0.75, 0.25, 1.25); pixel 3 (distance 2.25) is outside the support.
  Image src(4, 1);
  const uint8_t v[4] = {10, 200, 30, 90};
  for (int x = 0; x < 4; ++x) src.row(0)[x * 3] = src.row(0)[x * 3 + 1] = src.row(0)[x * 3 + 2] = v[x];
  auto k = [](double x) { return filter_weight(Filter::bicubic, x); };
  double w[3] = {k(0.75), k(0.25), k(1.25)};
  double sum = w[0] + w[1] + w[2], want = 0;
  for (int i = 0; i < 3; ++i) want += w[i] / sum * v[i];
  std::vector<double> ref = resample_reference(src, Box{0, 0, 4, 1}, 8, 1, Filter::bicubic);
  EXPECT_NEAR(ref[2 * 3], want, 1e-12);
  Image fast = resample(src, Box{0, 0, 4, 1}, 8, 1, Filter::bicubic);
  EXPECT_EQ(fast.at(2, 0, 0), to_u8(want));
}

TEST(Resample, DownscaleStretchesTheFilter) {
  // 8 -> 2: scale 4, so bilinear becomes a triangle of half-width 4 around
  // centers 2 and 6, with weights tri((j + 0.5 - 2) / 4) over pixels 0..4 (clipped).
  Image src(8, 1);
  for (int x = 0; x < 8; ++x)
    for (int c = 0; c < 3; ++c) src.row(0)[x * 3 + c] = static_cast<uint8_t>(x * 30);
  double num = 0, den = 0;
  for (int j = 0; j < 8; ++j) {
    double w = std::max(0.0, 1 - std::fabs((j + 0.5 - 2.0) / 4.0));
    num += w * j * 30, den += w;
  }
  std::vector<double> ref = resample_reference(src, Box{0, 0, 8, 1}, 2, 1, Filter::bilinear);
  EXPECT_NEAR(ref[0], num / den, 1e-12);
}

TEST(Resample, ReferenceAgreesWithPil) {
  Image src(7, 5);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x)
      for (int c = 0; c < 3; ++c) src.row(y)[x * 3 + c] = static_cast<uint8_t>((x * 37 + y * 59 + c * 101 + (x * y * 13) % 50) % 256);
  struct Case {
    const std::vector<int>* pil;
    Box box;
    int w, h;
    Filter f;
  };
  const Case cases[] = {{&test::kPil_down_bicubic, {0, 0, 7, 5}, 3, 2, Filter::bicubic},
                        {&test::kPil_up_bicubic, {0, 0, 7, 5}, 11, 9, Filter::bicubic},
                        {&test::kPil_box_bicubic, {1.5, 0.5, 6, 4.25}, 4, 4, Filter::bicubic},
                        {&test::kPil_down_bilinear, {0, 0, 7, 5}, 4, 3, Filter::bilinear}};
  for (const Case& cs : cases) {
    std::vector<double> ref = resample_reference(src, cs.box, cs.w, cs.h, cs.f);
    Image fast = resample(src, cs.box, cs.w, cs.h, cs.f);
    ASSERT_EQ(ref.size(), cs.pil->size());
    int worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      // PIL rounds its intermediate (after the horizontal pass) to 8 bits and
      // clamps it; on this deliberately harsh image that moves a few values by 1 or 2.
      worst = std::max(worst, std::abs(int(to_u8(ref[i])) - (*cs.pil)[i]));
      // The fixed-point path computes what PIL computes: equal, not close.
      EXPECT_EQ(int(fast.pixels[i]), (*cs.pil)[i]) << "case " << cs.w << "x" << cs.h << " i " << i;
    }
    EXPECT_LE(worst, 2) << "case " << cs.w << "x" << cs.h;
  }
}

TEST(Resample, FloatPathMatchesReference) {
  const uint64_t seed = 20240613;
  struct Case {
    int sw, sh;
    Box box;
    int w, h;
  };
  const Case cases[] = {
      {37, 23, {0, 0, 37, 23}, 37, 23},          // identity
      {37, 23, {0, 0, 37, 23}, 11, 7},           // downscale (antialiased)
      {37, 23, {0, 0, 37, 23}, 80, 51},          // upscale
      {37, 23, {3, 2, 30, 19}, 16, 16},          // a crop, like RandomResizedCrop
      {37, 23, {2.25, 1.5, 9.75, 8.5}, 24, 20},  // fractional box (DCT-scaled crops)
      {64, 48, {10, 0, 58, 48}, 13, 29},         // different factors per axis
      {5, 3, {0, 0, 5, 3}, 1, 1},
      {1, 1, {0, 0, 1, 1}, 9, 9},                // a 1 x 1 image
  };
  for (Filter f : {Filter::bicubic, Filter::bilinear})
    for (const Case& cs : cases) {
      Image src = test::random_image(cs.sw, cs.sh, seed + cs.w);
      std::vector<double> ref = resample_reference(src, cs.box, cs.w, cs.h, f);
      Image fast;
      resample_float_into(src, cs.box, cs.w, cs.h, f, fast);
      ASSERT_EQ(fast.width, cs.w);
      ASSERT_EQ(fast.height, cs.h);
      int worst = 0, off = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        int d = std::abs(int(fast.pixels[i]) - int(to_u8(ref[i])));
        worst = std::max(worst, d);
        off += d != 0;
      }
      // float vs float64: only values within float error of a rounding edge may differ, by 1.
      EXPECT_LE(worst, 1) << cs.sw << "x" << cs.sh << " -> " << cs.w << "x" << cs.h;
      EXPECT_LE(off, static_cast<int>(ref.size() / 100 + 1)) << cs.sw << "x" << cs.sh << " -> " << cs.w << "x" << cs.h;
    }
}

// Awkward sizes against PIL itself: many taps (3.4x down), fractional box,
// slight upscale, one axis up and one down, and PIL's crop() then resize()
// (what torchvision's resized_crop does), here a window of the image.
TEST(Resample, ExactPathEqualsPilOnAwkwardSizes) {
  Image src(37, 29);
  for (int y = 0; y < 29; ++y)
    for (int x = 0; x < 37; ++x)
      for (int c = 0; c < 3; ++c) src.row(y)[x * 3 + c] = static_cast<uint8_t>((x * 37 + y * 59 + c * 101 + (x * y * 13) % 50) % 256);
  struct Case {
    const std::vector<int>* pil;
    ImageView view;
    Box box;
    int w, h;
    Filter f;
  };
  const ImageView all(src), crop = all.crop(5, 3, 30, 26);
  const Case cases[] = {{&test::kPil37_down_bicubic, all, {0, 0, 37, 29}, 11, 9, Filter::bicubic},
                        {&test::kPil37_box_bicubic, all, {2.5, 1.25, 35, 27.75}, 19, 17, Filter::bicubic},
                        {&test::kPil37_up_bicubic, all, {0, 0, 37, 29}, 45, 31, Filter::bicubic},
                        {&test::kPil37_mixed_bilinear, all, {0, 0, 37, 29}, 13, 40, Filter::bilinear},
                        {&test::kPil37_crop_bicubic, crop, {0, 0, 25, 23}, 16, 16, Filter::bicubic}};
  for (const Case& cs : cases) {
    Image fast = resample(cs.view, cs.box, cs.w, cs.h, cs.f);
    Image plain = resample_exact_scalar(cs.view, cs.box, cs.w, cs.h, cs.f);
    ASSERT_EQ(fast.pixels.size(), cs.pil->size());
    for (size_t i = 0; i < fast.pixels.size(); ++i) {
      ASSERT_EQ(int(fast.pixels[i]), (*cs.pil)[i]) << cs.w << "x" << cs.h << " i " << i;
      ASSERT_EQ(int(plain.pixels[i]), (*cs.pil)[i]) << cs.w << "x" << cs.h << " i " << i;
    }
  }
}

// The SIMD path against the plain one on fresh random images: odd widths (row
// tails that are not a multiple of 16 bytes), windows of larger images (loads
// near the window's edge), 1-pixel images, large downscales (many tap groups).
TEST(Resample, ExactPathEqualsScalarOnRandomInputs) {
  std::mt19937_64 rng(std::random_device{}());
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  for (int trial = 0; trial < 400; ++trial) {
    const uint64_t seed = rng();
    Image big = test::random_image(pick(1, 160), pick(1, 90), seed);
    // A window of it (possibly all of it), as region decoding and crops give.
    int x0 = pick(0, big.width - 1), y0 = pick(0, big.height - 1);
    int x1 = pick(x0 + 1, big.width), y1 = pick(y0 + 1, big.height);
    ImageView v = ImageView(big).crop(x0, y0, x1, y1);
    double bx0 = uni(0, v.width * 0.5), by0 = uni(0, v.height * 0.5);
    Box box{bx0, by0, uni(bx0 + 0.25, v.width), uni(by0 + 0.25, v.height)};
    if (trial % 3 == 0) box = Box{0, 0, double(v.width), double(v.height)};
    int w = pick(1, 100), h = pick(1, 60);
    Filter f = trial % 4 == 3 ? Filter::bilinear : Filter::bicubic;
    Image fast = resample(v, box, w, h, f), plain = resample_exact_scalar(v, box, w, h, f);
    ASSERT_EQ(fast.pixels, plain.pixels) << "seed " << seed << " window " << v.width << "x" << v.height << " box ("
                                         << box.x0 << ", " << box.y0 << ", " << box.x1 << ", " << box.y1 << ") -> "
                                         << w << "x" << h;
  }
}

// On a smooth image (no overshoot to clamp) PIL's scheme stays within one
// level of the exact float64 value: its only extra error is the rounding of
// the intermediate to 8 bits.
TEST(Resample, ExactPathIsWithinALevelOfTheReferenceOnSmoothImages) {
  Image src = test::smooth_image(71, 53, 2);
  const Box boxes[] = {{0, 0, 71, 53}, {3.5, 2.25, 60, 50.5}, {10, 7, 31, 29}};
  for (const Box& box : boxes)
    for (auto [w, h] : {std::pair{24, 24}, {17, 40}, {90, 61}}) {
      std::vector<double> ref = resample_reference(src, box, w, h, Filter::bicubic);
      Image fast = resample(src, box, w, h, Filter::bicubic);
      for (size_t i = 0; i < ref.size(); ++i) ASSERT_LE(std::abs(int(fast.pixels[i]) - int(to_u8(ref[i]))), 1) << w << "x" << h;
    }
}

TEST(Resample, IdentityAndConstantImagesArePreserved) {
  Image src = test::random_image(19, 11, 5);
  EXPECT_EQ(resample(src, Box{0, 0, 19, 11}, 19, 11, Filter::bicubic).pixels, src.pixels);
  Image flat(23, 17);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 77);
  for (auto [w, h] : {std::pair{5, 3}, {50, 41}, {23, 17}}) {
    Image out = resample(flat, Box{1.5, 2.25, 20, 16}, w, h, Filter::bicubic);
    for (uint8_t v : out.pixels) ASSERT_EQ(v, 77);
  }
}

}  // namespace
}  // namespace mapet::data
