// Transforms against direct references: RandomResizedCrop's statistics against
// torchvision's algorithm run on another RNG, the eval geometry against resize
// then crop, flip / jitter / normalise against their formulas.
#include "data/transforms.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "data/jpeg.h"
#include "engine/tensor.h"
#include "tests/data/data_test_util.h"

namespace mapet::data {
namespace {

// torchvision's RandomResizedCrop.get_params, transcribed, on std::mt19937.
Box torchvision_rrc(int width, int height, double s0, double s1, double r0, double r1, std::mt19937_64& g) {
  std::uniform_real_distribution<double> U(0, 1);
  double area = double(width) * height;
  for (int i = 0; i < 10; ++i) {
    double ta = area * (s0 + (s1 - s0) * U(g));
    double ar = std::exp(std::log(r0) + (std::log(r1) - std::log(r0)) * U(g));
    int w = int(std::nearbyint(std::sqrt(ta * ar))), h = int(std::nearbyint(std::sqrt(ta / ar)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      int top = std::uniform_int_distribution<int>(0, height - h)(g);
      int left = std::uniform_int_distribution<int>(0, width - w)(g);
      return {double(left), double(top), double(left + w), double(top + h)};
    }
  }
  double ir = double(width) / height;
  int w = width, h = height;
  if (ir < r0) h = int(std::nearbyint(w / r0));
  else if (ir > r1) w = int(std::nearbyint(h * r1));
  return {double((width - w) / 2), double((height - h) / 2), double((width - w) / 2 + w), double((height - h) / 2 + h)};
}

struct CropStats {
  double area = 0, log_ratio = 0, cx = 0, cy = 0, full = 0;
  void add(const Box& b, int W, int H, int n) {
    area += b.width() * b.height() / (double(W) * H) / n;
    log_ratio += std::log(b.width() / b.height()) / n;
    cx += (b.x0 + b.x1) / 2 / W / n;
    cy += (b.y0 + b.y1) / 2 / H / n;
    full += (b.width() == W && b.height() == H) ? 1.0 / n : 0;
  }
};

TEST(RandomResizedCrop, StatisticsMatchTorchvision) {
  const int n = 40000;
  for (auto [W, H] : {std::pair{500, 375}, {64, 256}}) {
    CropStats ours, theirs;
    std::mt19937_64 g(99);
    for (int i = 0; i < n; ++i) {
      SampleRng rng(1234, 0, static_cast<uint64_t>(i));
      Box b = random_resized_crop_box(W, H, 0.08, 1.0, 3.0 / 4, 4.0 / 3, rng);
      ASSERT_GE(b.x0, 0);
      ASSERT_GE(b.y0, 0);
      ASSERT_LE(b.x1, W);
      ASSERT_LE(b.y1, H);
      ASSERT_EQ(b.x0, std::floor(b.x0));  // integer boxes, as torchvision crops
      ours.add(b, W, H, n);
      theirs.add(torchvision_rrc(W, H, 0.08, 1.0, 3.0 / 4, 4.0 / 3, g), W, H, n);
    }
    // Standard errors are about 0.0013 (area), 0.0008 (log ratio), 0.0008 (centers).
    EXPECT_NEAR(ours.area, theirs.area, 0.008) << W << "x" << H;
    EXPECT_NEAR(ours.log_ratio, theirs.log_ratio, 0.006) << W << "x" << H;
    EXPECT_NEAR(ours.cx, 0.5, 0.005);
    EXPECT_NEAR(ours.cy, 0.5, 0.005);
    EXPECT_NEAR(ours.full, theirs.full, 0.006);
  }
}

TEST(RandomResizedCrop, BoxesRespectScaleAndRatioUnlessFallingBack) {
  for (int i = 0; i < 5000; ++i) {
    SampleRng rng(7, 3, static_cast<uint64_t>(i));
    Box b = random_resized_crop_box(640, 480, 0.3, 0.6, 0.5, 2.0, rng);
    double frac = b.width() * b.height() / (640.0 * 480.0), ratio = b.width() / b.height();
    // Rounding w and h to integers moves area and ratio a little.
    EXPECT_GE(frac, 0.3 - 0.01);
    EXPECT_LE(frac, 0.6 + 0.01);
    EXPECT_GE(ratio, 0.5 - 0.02);
    EXPECT_LE(ratio, 2.0 + 0.02);
  }
}

TEST(RandomResizedCrop, PretrainConfigIsTheCenterView) {
  // torchvision with scale (1, 1), ratio (1, 1): the first try wants a square of
  // round(sqrt(W H)), which fits only when W and H differ by at most one pixel
  // (then its position is random, 0 or 1 off center); otherwise every try
  // fails and the fallback is the centered square.
  TransformConfig cfg;
  cfg.scale_min = cfg.scale_max = cfg.ratio_min = cfg.ratio_max = 1;
  cfg.hflip = 0;
  EXPECT_TRUE(cfg.train_is_center_view());
  for (auto [W, H] : {std::pair{500, 375}, {375, 500}, {224, 224}, {301, 300}, {300, 302}, {1, 7}}) {
    Box c = center_box(W, H);
    for (int i = 0; i < 20; ++i) {
      SampleRng rng(5, i, i);
      Box b = random_resized_crop_box(W, H, 1, 1, 1, 1, rng);
      double slack = std::abs(W - H) == 1 ? 1.0 : 0.0;
      EXPECT_NEAR(b.x0, c.x0, slack) << W << "x" << H;
      EXPECT_NEAR(b.y0, c.y0, slack) << W << "x" << H;
      EXPECT_EQ(b.width(), c.width());
      EXPECT_EQ(b.height(), c.height());
      // The loader's train plan for this config is exactly the center view.
      Plan p = plan(cfg, Mode::train, W, H, rng);
      EXPECT_EQ(p.view.box.x0, c.x0);
      EXPECT_EQ(p.view.box.y0, c.y0);
      EXPECT_EQ(p.view.box.x1, c.x1);
      EXPECT_FALSE(p.view.flip);
    }
  }
  EXPECT_EQ(center_box(500, 375).x0, 62);  // (500 - 375) // 2
  EXPECT_FALSE(TransformConfig{}.train_is_center_view());
}

TEST(EvalTransform, GeometryIsResizeThenCenterCrop) {
  // 500 x 375, size 224, crop_pct 0.9: Resize(248) -> 330 x 248, crop at (53, 12).
  Box b = eval_box(500, 375, 224, 0.9);
  EXPECT_NEAR(b.x0, 53 * 500.0 / 330, 1e-9);
  EXPECT_NEAR(b.y0, 12 * 375.0 / 248, 1e-9);
  EXPECT_NEAR(b.x1, 277 * 500.0 / 330, 1e-9);
  EXPECT_NEAR(b.y1, 236 * 375.0 / 248, 1e-9);
  // Python rounds (331 - 224) / 2 = 53.5 to 54 and 52.5 to 52: halves go to the even neighbour.
  Box c = eval_box(331, 248, 224, 224.0 / 248);  // scale_size 248 -> 331 x 248
  EXPECT_NEAR(c.x0, 54.0, 1e-9);
  Box d = eval_box(329, 248, 224, 224.0 / 248);  // (329 - 224) / 2 = 52.5 -> 52
  EXPECT_NEAR(d.x0, 52.0, 1e-9);

  // Resampling the box equals resizing the whole image then cropping (what torchvision does).
  Image src = test::random_image(23, 17, 3);
  const int size = 8;
  double crop_pct = 0.8;  // scale_size 10 -> 13 x 10 (int(10 * 23 / 17) = 13), crop at (2, 1)
  Box e = eval_box(23, 17, size, crop_pct);
  std::vector<double> full = resample_reference(src, Box{0, 0, 23, 17}, 13, 10, Filter::bicubic);
  std::vector<double> boxed = resample_reference(src, e, size, size, Filter::bicubic);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_NEAR(boxed[(y * size + x) * 3 + c], full[((y + 1) * 13 + x + 2) * 3 + c], 1e-9) << x << "," << y;
}

TEST(Normalize, FlipAndNormaliseFollowTheFormula) {
  // Widths below, at and past the 16-pixel SIMD step (with a tail).
  for (auto [w, h] : {std::pair{5, 4}, {16, 2}, {37, 3}}) {
    Image img = test::random_image(w, h, 11 + w);
    std::vector<float> out(3 * w * h), flipped(3 * w * h);
    to_normalized_chw(img, false, Jitter{}, kClipMean, kClipStd, out.data());
    to_normalized_chw(img, true, Jitter{}, kClipMean, kClipStd, flipped.data());
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          double want = (img.at(x, y, c) / 255.0 - kClipMean[c]) / kClipStd[c];
          double want_flip = (img.at(w - 1 - x, y, c) / 255.0 - kClipMean[c]) / kClipStd[c];
          ASSERT_NEAR(out[(c * h + y) * w + x], want, 1e-5) << w << "x" << h;
          ASSERT_NEAR(flipped[(c * h + y) * w + x], want_flip, 1e-5) << w << "x" << h;
        }
  }
}

// torchvision's tensor definitions, in float64, one op at a time.
std::vector<double> jitter_reference(const Image& img, const Jitter& j) {
  const size_t n = static_cast<size_t>(img.width) * img.height;
  std::vector<double> x(3 * n);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) x[c * n + i] = img.pixels[i * 3 + c] / 255.0;
  auto gray = [&](size_t i) { return 0.2989 * x[i] + 0.587 * x[n + i] + 0.114 * x[2 * n + i]; };
  auto clamp01 = [](double v) { return std::min(1.0, std::max(0.0, v)); };
  for (int op : j.order) {
    if (op == 0)  // adjust_brightness: blend with black
      for (double& v : x) v = clamp01(j.brightness * v);
    if (op == 1) {  // adjust_contrast: blend with the mean of the grayscale image
      double m = 0;
      for (size_t i = 0; i < n; ++i) m += gray(i) / n;
      for (double& v : x) v = clamp01(j.contrast * v + (1 - j.contrast) * m);
    }
    if (op == 2)  // adjust_saturation: blend with the grayscale image
      for (size_t i = 0; i < n; ++i) {
        double g = gray(i);
        for (int c = 0; c < 3; ++c) x[c * n + i] = clamp01(j.saturation * x[c * n + i] + (1 - j.saturation) * g);
      }
  }
  return x;
}

TEST(ColorJitter, MatchesTorchvisionDefinitions) {
  const Rgb zero{0, 0, 0}, one{1, 1, 1};
  // Every order with contrast (the op that needs the whole image) at each place;
  // rows shorter and longer than the 8-lane grey sum.
  for (auto [w, h] : {std::pair{9, 7}, {5, 3}, {61, 29}}) {
    Image img = test::random_image(w, h, 21 + w);
    for (Jitter j : {Jitter{1.4f, 1, 1, {0, 1, 2}}, Jitter{1, 0.6f, 1, {0, 1, 2}}, Jitter{1, 1, 1.7f, {0, 1, 2}},
                     Jitter{0.7f, 1.3f, 0.2f, {2, 0, 1}}, Jitter{1.2f, 0.5f, 1.5f, {1, 2, 0}},
                     Jitter{0.8f, 1.4f, 0.6f, {0, 2, 1}}}) {
      std::vector<float> out(3 * w * h), flipped(out.size());
      to_normalized_chw(img, false, j, zero, one, out.data());  // mean 0, std 1: the jittered [0, 1] values
      std::vector<double> want = jitter_reference(img, j);
      for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(out[i], want[i], 2e-6) << w << "x" << h << " " << i;
      // The flip mirrors the result (jitter does not depend on positions).
      to_normalized_chw(img, true, j, zero, one, flipped.data());
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            ASSERT_NEAR(flipped[(c * h + y) * w + x], out[(c * h + y) * w + (w - 1 - x)], 1e-6);
    }
  }
}

TEST(ColorJitter, FactorsAndOrderAreDrawnInRange) {
  TransformConfig cfg;
  cfg.brightness = 0.4f, cfg.contrast = 0.4f, cfg.saturation = 1.5f;
  int order_counts[3][3] = {};
  for (int i = 0; i < 3000; ++i) {
    Jitter j = draw_jitter(cfg, SampleRng(1, 2, i));
    EXPECT_GE(j.brightness, 0.6f);
    EXPECT_LE(j.brightness, 1.4f);
    EXPECT_GE(j.saturation, 0.0f);  // max(0, 1 - 1.5)
    EXPECT_LE(j.saturation, 2.5f);
    for (int k = 0; k < 3; ++k) order_counts[k][j.order[k]]++;
  }
  for (auto& row : order_counts)
    for (int c : row) EXPECT_NEAR(c, 1000, 120);  // every op equally likely in every place
  cfg.brightness = cfg.contrast = cfg.saturation = 0;
  EXPECT_FALSE(draw_jitter(cfg, SampleRng(1, 2, 3)).active());
}

TEST(TransformJpeg, DctScalingChangesLittleAndMatchesThePlainPathWhenOff) {
  Image src = test::smooth_image(900, 700);
  std::vector<uint8_t> jpg = test::jpeg_of(src, 95);
  TransformConfig cfg;
  cfg.size = 64;
  SampleRng rng(3, 0, 0);
  std::vector<float> scaled(3 * 64 * 64), plain(3 * 64 * 64);
  View v = transform_jpeg(jpg.data(), jpg.size(), "big.jpg", cfg, Mode::eval, rng, scaled.data());
  EXPECT_EQ(pick_dct_denominator(v.box.width(), v.box.height(), 64, 64), 8);
  cfg.dct_scaling = false;
  transform_jpeg(jpg.data(), jpg.size(), "big.jpg", cfg, Mode::eval, rng, plain.data());
  double mean_abs = 0;
  for (size_t i = 0; i < plain.size(); ++i) mean_abs += std::fabs(plain[i] - scaled[i]) / plain.size();
  EXPECT_LT(mean_abs, 0.03);  // about 1.5 levels of 255, in normalised units
  // With scaling and region decoding off, the path is decode + resample + normalise, nothing else.
  cfg.region_decode = false;
  std::vector<float> whole(3 * 64 * 64);
  transform_jpeg(jpg.data(), jpg.size(), "big.jpg", cfg, Mode::eval, rng, whole.data());
  Image full = decode_jpeg(jpg, "big.jpg");
  Image r = resample(full, v.box, 64, 64, Filter::bicubic);
  std::vector<float> direct(3 * 64 * 64);
  to_normalized_chw(r, false, Jitter{}, cfg.mean, cfg.std, direct.data());
  EXPECT_EQ(direct, whole);
  // Decoding only the region the resize reads changes nothing but float
  // rounding of the shifted box (a level at most, rarely).
  double worst = 0;
  for (size_t i = 0; i < plain.size(); ++i) worst = std::max(worst, double(std::fabs(plain[i] - whole[i])));
  EXPECT_LE(worst, 1.01 / (255 * 0.224));
}

TEST(TransformJpeg, RegionDecodingMatchesWholeImageDecoding) {
  // Random crops of 4:2:0 and 4:4:4 files, regions touching the image edges or not.
  Image src = test::smooth_image(333, 251, 5);
  JpegEncodeOptions o;
  o.quality = 90;
  for (bool sub : {true, false}) {
    o.subsample = sub;
    std::vector<uint8_t> jpg = encode_jpeg(src.pixels.data(), 333, 251, JpegColor::rgb, o);
    TransformConfig cfg;
    cfg.size = 48;
    std::vector<float> a(3 * 48 * 48), b(a.size());
    int levels_off = 0;
    for (int i = 0; i < 40; ++i) {
      cfg.region_decode = true;
      transform_jpeg(jpg.data(), jpg.size(), "r.jpg", cfg, Mode::train, SampleRng(4, 0, i), a.data());
      cfg.region_decode = false;
      transform_jpeg(jpg.data(), jpg.size(), "r.jpg", cfg, Mode::train, SampleRng(4, 0, i), b.data());
      for (size_t k = 0; k < a.size(); ++k) {
        double levels = std::fabs(a[k] - b[k]) * 255 * cfg.std[k / (48 * 48)];
        ASSERT_LE(levels, 1.01) << "crop " << i;
        levels_off += levels > 0.5;
      }
    }
    EXPECT_LE(levels_off, 40 * 3 * 48 * 48 / 1000);  // almost all identical
  }
}

// What torchvision does on a PIL image, spelt out with the pieces: train and
// the center view crop the box out of the decoded image, then resize it whole
// (taps stop at the crop's edges); eval resizes the whole image, then crops
// (here: a box of the whole image). The pipeline, with region decoding, must
// give exactly that.
TEST(TransformJpeg, CropsThenResizesForTrainAndResizesThenCropsForEval) {
  Image src = test::smooth_image(217, 163, 3);
  JpegEncodeOptions o;
  o.quality = 85;
  std::vector<uint8_t> jpg = encode_jpeg(src.pixels.data(), 217, 163, JpegColor::rgb, o);
  const Image full = decode_jpeg(jpg, "c.jpg");
  TransformConfig cfg;
  cfg.size = 40;
  cfg.dct_scaling = false;
  cfg.brightness = cfg.contrast = cfg.saturation = 0.3f;
  std::vector<float> got(3 * 40 * 40), want(got.size());
  for (Mode mode : {Mode::train, Mode::center, Mode::eval})
    for (int i = 0; i < 12; ++i) {
      SampleRng rng(8, 1, i);
      View v = transform_jpeg(jpg.data(), jpg.size(), "c.jpg", cfg, mode, rng, got.data());
      Plan p = plan(cfg, mode, 217, 163, rng);
      Image r;
      if (mode == Mode::eval) {
        r = resample(full, v.box, 40, 40, Filter::bicubic);
      } else {
        const Box& b = v.box;  // whole pixels
        ImageView crop = ImageView(full).crop(int(b.x0), int(b.y0), int(b.x1), int(b.y1));
        r = resample(crop, Box{0, 0, b.width(), b.height()}, 40, 40, Filter::bicubic);
      }
      to_normalized_chw(r, p.view.flip, p.jitter, cfg.mean, cfg.std, want.data());
      ASSERT_EQ(got, want) << "mode " << int(mode) << " sample " << i;
    }
}

TEST(TransformJpeg, SameDrawsSameOutput) {
  std::vector<uint8_t> jpg = test::jpeg_of(test::smooth_image(120, 90), 90);
  TransformConfig cfg;
  cfg.size = 32;
  cfg.brightness = cfg.contrast = cfg.saturation = 0.4f;
  std::vector<float> a(3 * 32 * 32), b(a.size()), c(a.size());
  View va = transform_jpeg(jpg.data(), jpg.size(), "x.jpg", cfg, Mode::train, SampleRng(9, 1, 5), a.data());
  View vb = transform_jpeg(jpg.data(), jpg.size(), "x.jpg", cfg, Mode::train, SampleRng(9, 1, 5), b.data());
  transform_jpeg(jpg.data(), jpg.size(), "x.jpg", cfg, Mode::train, SampleRng(9, 2, 5), c.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(va.box.x0, vb.box.x0);
  EXPECT_NE(a, c);  // another epoch, another crop
}

TEST(TransformConfig, RejectsBadSettingsByName) {
  TransformConfig cfg;
  cfg.scale_min = 0;
  EXPECT_THROW(cfg.validate(), Error);
  cfg = TransformConfig{};
  cfg.crop_pct = 1.2;
  try {
    cfg.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--crop-pct"), std::string::npos);
  }
}

}  // namespace
}  // namespace mapet::data
