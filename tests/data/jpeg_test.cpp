// JPEG decoding: files written by libjpeg-turbo with known content come back
// as RGB with that content, in every colour model and layout we meet.
#include "data/jpeg.h"

#include <gtest/gtest.h>

#include "data/png.h"
#include "engine/tensor.h"
#include "tests/data/data_test_util.h"

namespace mapet::data {
namespace {

using test::jpeg_of;
using test::max_abs_diff;
using test::smooth_image;

TEST(Jpeg, RgbRoundTripKeepsContent) {
  Image src = smooth_image(64, 48);
  Image got = decode_jpeg(jpeg_of(src), "rgb.jpg");
  EXPECT_LE(max_abs_diff(got, src), 3);  // quality 100, 4:4:4
}

TEST(Jpeg, OddSizesDecodeToTheirSize) {
  for (auto [w, h] : {std::pair{1, 1}, {17, 9}, {9, 17}, {33, 65}, {127, 3}}) {
    Image src = smooth_image(w, h, w);
    Image got = decode_jpeg(jpeg_of(src), "odd.jpg");
    ASSERT_EQ(got.width, w);
    ASSERT_EQ(got.height, h);
    EXPECT_LE(max_abs_diff(got, src), 4) << w << "x" << h;
  }
}

TEST(Jpeg, ProgressiveMatchesBaseline) {
  Image src = smooth_image(75, 50);
  std::vector<uint8_t> prog = jpeg_of(src, 95, true);
  EXPECT_NE(prog, jpeg_of(src, 95, false));
  Image p = decode_jpeg(prog, "progressive.jpg"), b = decode_jpeg(jpeg_of(src, 95, false), "baseline.jpg");
  EXPECT_LE(max_abs_diff(p, b), 1);  // same coefficients, only the scan order differs
  EXPECT_LE(max_abs_diff(p, src), 8);  // quality 95
}

TEST(Jpeg, GrayscaleComesOutAsRgbWithEqualChannels) {
  const int w = 21, h = 13;
  std::vector<uint8_t> gray(w * h);
  for (int i = 0; i < w * h; ++i) gray[i] = static_cast<uint8_t>(40 + (i % w) * 8);
  JpegEncodeOptions o;
  o.quality = 100;
  std::vector<uint8_t> jpg = encode_jpeg(gray.data(), w, h, JpegColor::gray, o);
  EXPECT_TRUE(read_jpeg_info(jpg.data(), jpg.size(), "g.jpg").gray);
  Image got = decode_jpeg(jpg, "g.jpg");
  ASSERT_EQ(got.width, w);
  for (int i = 0; i < w * h; ++i) {
    const uint8_t* p = &got.pixels[i * 3];
    ASSERT_EQ(p[0], p[1]);
    ASSERT_EQ(p[1], p[2]);
    ASSERT_NEAR(p[0], gray[i], 2) << "pixel " << i;
  }
}

TEST(Jpeg, CmykComesOutAsRgbLikePil) {
  // Flat 16x16 patches of four stored (Adobe, inverted) CMYK colours; PIL
  // shows stored (155, 205, 255, 195) as RGB (119, 157, 195).
  const uint8_t colours[4][4] = {{155, 205, 255, 195}, {255, 255, 255, 255}, {0, 128, 255, 255}, {200, 100, 50, 128}};
  const int w = 32, h = 32;
  std::vector<uint8_t> cmyk(w * h * 4);
  auto patch = [](int x, int y) { return (y / 16) * 2 + x / 16; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 4; ++c) cmyk[(y * w + x) * 4 + c] = colours[patch(x, y)][c];
  JpegEncodeOptions o;
  o.quality = 100;
  std::vector<uint8_t> jpg = encode_jpeg(cmyk.data(), w, h, JpegColor::cmyk, o);
  EXPECT_TRUE(read_jpeg_info(jpg.data(), jpg.size(), "c.jpg").cmyk);
  Image got = decode_jpeg(jpg, "c.jpg");
  for (int y : {4, 11, 20, 27})
    for (int x : {3, 12, 19, 28}) {
      const uint8_t* s = colours[patch(x, y)];
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(got.at(x, y, c), s[c] * s[3] / 255.0, 3) << "x " << x << " y " << y << " c " << c;
    }
  EXPECT_NEAR(got.at(3, 4, 0), 119, 3);
  EXPECT_NEAR(got.at(3, 4, 1), 157, 3);
  EXPECT_NEAR(got.at(3, 4, 2), 195, 3);
}

TEST(Jpeg, DctScalingGivesCeilSizesAndBlockAverages) {
  Image src = smooth_image(101, 67);
  std::vector<uint8_t> jpg = jpeg_of(src);
  Image full = decode_jpeg(jpg, "s.jpg");
  for (int d : {2, 4, 8}) {
    Image s = decode_jpeg(jpg, "s.jpg", d);
    ASSERT_EQ(s.width, (101 + d - 1) / d);
    ASSERT_EQ(s.height, (67 + d - 1) / d);
    // A scaled pixel is the average of its d x d block (on a smooth image, within a few levels).
    for (int y = 0; y < 67 / d; ++y)
      for (int x = 0; x < 101 / d; ++x)
        for (int c = 0; c < 3; ++c) {
          double sum = 0;
          for (int j = 0; j < d; ++j)
            for (int i = 0; i < d; ++i) sum += full.at(x * d + i, y * d + j, c);
          ASSERT_NEAR(s.at(x, y, c), sum / (d * d), 6) << "1/" << d << " at " << x << "," << y;
        }
  }
}

TEST(Jpeg, PicksTheLargestScaleThatKeepsTheResolution) {
  EXPECT_EQ(pick_dct_denominator(500, 375, 224, 224), 1);   // a typical ImageNet crop: no scaling
  EXPECT_EQ(pick_dct_denominator(448, 448, 224, 224), 2);
  EXPECT_EQ(pick_dct_denominator(447.5, 900, 224, 224), 1);
  EXPECT_EQ(pick_dct_denominator(1000, 900, 224, 224), 4);
  EXPECT_EQ(pick_dct_denominator(4000, 3000, 224, 224), 8);
  EXPECT_EQ(pick_dct_denominator(4000, 3000, 224, 224), 8);
}

TEST(Jpeg, BrokenInputsThrowErrorsNamingTheFile) {
  Image src = smooth_image(40, 30);
  std::vector<uint8_t> good = jpeg_of(src, 90);
  auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& name, const std::string& words) {
    try {
      decode_jpeg(bytes, name);
      ADD_FAILURE() << name << " decoded without error";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find(words), std::string::npos) << msg;
    }
  };
  expect_error({}, "empty.jpg", "empty");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2), "half.jpg", "truncated");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 100), "header_only.jpg", "");
  // Issue #17: cut in the middle of the scan, then an end marker: libjpeg's warning is "Corrupt JPEG data:
  // premature end of data segment" (lower case), which a case-sensitive match missed (the image came out grey-padded).
  std::vector<uint8_t> big = jpeg_of(smooth_image(320, 240), 90);
  std::vector<uint8_t> cut_with_end(big.begin(), big.begin() + big.size() * 3 / 4);
  cut_with_end.insert(cut_with_end.end(), {0xFF, 0xD9});
  expect_error(cut_with_end, "cut_with_end.jpg", "premature end of data segment");
  std::vector<uint8_t> noise(5000);
  std::mt19937 rng(7);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  expect_error(noise, "noise.jpg", "not a JPEG");
  expect_error(encode_png(src), "renamed_png.jpg", "PNG");
  expect_error(test::with_claimed_size(good, 20000, 20000), "bomb.jpg", "20000x20000");
  // A JPEG whose entropy-coded data is garbage after a valid header.
  std::vector<uint8_t> scrambled = good;
  for (size_t i = scrambled.size() / 3; i + 2 < scrambled.size(); ++i) scrambled[i] = static_cast<uint8_t>(rng() | 1);
  try {
    decode_jpeg(scrambled, "scrambled.jpg");  // libjpeg may or may not call this fatal; it must not crash
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scrambled.jpg"), std::string::npos);
  }
  // After all those failures this thread's decoder still reads a good file
  // right (libjpeg-turbo 2.1 handles need replacing after an error).
  EXPECT_LE(max_abs_diff(decode_jpeg(good, "good.jpg"), src), 8);
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 100), "header_only.jpg", "");
  EXPECT_LE(max_abs_diff(decode_jpeg(good, "good.jpg"), src), 8);
}

TEST(Jpeg, ReadFileNamesAMissingFile) {
  try {
    read_file("/nonexistent/dir/x.jpg");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.jpg"), std::string::npos);
  }
}

}  // namespace
}  // namespace mapet::data
