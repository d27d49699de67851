// Region decoding gives exactly the pixels of a full decode, for every layout.
#include "data/jpeg_region.h"

#include <gtest/gtest.h>

#include "data/jpeg.h"
#include "engine/tensor.h"
#include "tests/data/data_test_util.h"

namespace mapet::data {
namespace {

void expect_same_as_full(const std::vector<uint8_t>& jpg, int denom, const Region& want, const std::string& what) {
  Image full = decode_jpeg(jpg, what, denom), part;
  Region got = decode_jpeg_region_into(jpg.data(), jpg.size(), what, denom, want, part);
  ASSERT_LE(got.x0, want.x0) << what;
  ASSERT_GE(got.x1, want.x1) << what;
  ASSERT_EQ(got.y0, want.y0);
  ASSERT_EQ(got.y1, want.y1);
  ASSERT_EQ(part.width, got.x1 - got.x0);
  ASSERT_EQ(part.height, got.y1 - got.y0);
  int worst = 0;
  for (int y = want.y0; y < want.y1; ++y)
    for (int x = want.x0; x < want.x1; ++x)
      for (int c = 0; c < 3; ++c)
      {
        int d = std::abs(int(part.at(x - got.x0, y - got.y0, c)) - int(full.at(x, y, c)));
        worst = std::max(worst, d);
      }
  EXPECT_EQ(worst, 0) << what << " 1/" << denom << " region " << want.x0 << "," << want.y0 << " " << want.x1 << "," << want.y1;
}

TEST(JpegRegion, MatchesFullDecodeForEveryLayout) {
  Image src = test::smooth_image(203, 157, 3);
  JpegEncodeOptions o;
  o.quality = 90;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  o.subsample = true;
  files.emplace_back("420.jpg", encode_jpeg(src.pixels.data(), 203, 157, JpegColor::rgb, o));
  o.progressive = true;
  files.emplace_back("420_progressive.jpg", encode_jpeg(src.pixels.data(), 203, 157, JpegColor::rgb, o));
  o.subsample = o.progressive = false;
  files.emplace_back("444.jpg", encode_jpeg(src.pixels.data(), 203, 157, JpegColor::rgb, o));
  std::vector<uint8_t> gray(203 * 157), cmyk(203 * 157 * 4);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = src.pixels[i * 3 + 1];
  for (size_t i = 0; i < gray.size(); ++i)
    for (int c = 0; c < 4; ++c) cmyk[i * 4 + c] = static_cast<uint8_t>(255 - src.pixels[i * 3 + c % 3] / (c == 3 ? 4 : 1));
  files.emplace_back("gray.jpg", encode_jpeg(gray.data(), 203, 157, JpegColor::gray, o));
  files.emplace_back("cmyk.jpg", encode_jpeg(cmyk.data(), 203, 157, JpegColor::cmyk, o));
  for (const auto& [name, jpg] : files) {
    for (const Region& r : {Region{0, 0, 203, 157}, Region{37, 21, 150, 130}, Region{1, 1, 2, 2}, Region{100, 100, 203, 157},
                            Region{0, 57, 203, 58}})
      expect_same_as_full(jpg, 1, r, name);
    expect_same_as_full(jpg, 2, Region{10, 9, 80, 70}, name);
    expect_same_as_full(jpg, 4, Region{3, 5, 40, 30}, name);
  }
}

TEST(JpegRegion, TruncatedFilesAreRefusedWhateverTheRegion) {
  Image src = test::smooth_image(120, 90);
  std::vector<uint8_t> jpg = test::jpeg_of(src, 90);
  std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + jpg.size() * 3 / 4);
  Image out;
  for (const Region& r : {Region{0, 0, 10, 10}, Region{0, 0, 120, 90}}) {
    try {
      decode_jpeg_region_into(cut.data(), cut.size(), "cut.jpg", 1, r, out);
      ADD_FAILURE() << "no error for a truncated file";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'cut.jpg'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
  // Cut, then an end marker (libjpeg: "premature end of data segment"): refused when the region reaches the cut.
  cut.insert(cut.end(), {0xFF, 0xD9});
  EXPECT_THROW(decode_jpeg_region_into(cut.data(), cut.size(), "cut.jpg", 1, Region{0, 0, 120, 90}, out), Error);
  std::vector<uint8_t> trailing = jpg;  // bytes after the end marker are harmless
  trailing.insert(trailing.end(), {1, 2, 3, 0, 0});
  EXPECT_NO_THROW(decode_jpeg_region_into(trailing.data(), trailing.size(), "t.jpg", 1, Region{0, 0, 5, 5}, out));
  EXPECT_THROW(decode_jpeg_region_into(jpg.data(), jpg.size(), "big.jpg", 1, Region{0, 0, 121, 5}, out), Error);
}

}  // namespace
}  // namespace mapet::data

namespace mapet::data {
namespace {

TEST(JpegRegion, FastDecodeStaysCloseToAccurate) {
  Image src = test::smooth_image(160, 120, 2);
  JpegEncodeOptions o;
  o.quality = 90;
  o.subsample = true;
  std::vector<uint8_t> jpg = encode_jpeg(src.pixels.data(), 160, 120, JpegColor::rgb, o);
  Image fast, accurate;
  decode_jpeg_region_into(jpg.data(), jpg.size(), "f.jpg", 1, Region{0, 0, 160, 120}, fast, true);
  decode_jpeg_region_into(jpg.data(), jpg.size(), "f.jpg", 1, Region{0, 0, 160, 120}, accurate, false);
  double mean = 0;
  for (size_t i = 0; i < fast.pixels.size(); ++i) mean += std::abs(int(fast.pixels[i]) - int(accurate.pixels[i]));
  mean /= fast.pixels.size();
  EXPECT_GT(mean, 0.0);  // it is a different decode
  EXPECT_LT(mean, 2.0);
  EXPECT_LE(test::max_abs_diff(fast, accurate), 24);
}

}  // namespace
}  // namespace mapet::data
