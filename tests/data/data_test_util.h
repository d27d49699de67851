// Fixtures for the data tests: synthetic images with known content, JPEG files
// written with libjpeg-turbo into a fresh temporary folder, image folders.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/jpeg.h"

namespace mapet::data::test {

namespace fs = std::filesystem;

// A smooth image (JPEG keeps it to within a few levels): red ramps along x,
// green along y, blue a gentle wave. `phase` makes different images differ.
inline Image smooth_image(int w, int h, int phase = 0) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + x * 3;
      p[0] = static_cast<uint8_t>(w > 1 ? (x * 255 + phase * 13) / (w - 1 + phase) : 100);
      p[1] = static_cast<uint8_t>(h > 1 ? y * 200 / (h - 1) + 20 : 120);
      p[2] = static_cast<uint8_t>(128 + 60 * std::sin(0.05 * (x + y) + phase));
    }
  return img;
}

// Random pixels, for resampler tests (no JPEG involved).
inline Image random_image(int w, int h, uint64_t seed) {
  Image img(w, h);
  std::mt19937_64 rng(seed);
  for (uint8_t& v : img.pixels) v = static_cast<uint8_t>(rng() & 255);
  return img;
}

inline std::vector<uint8_t> jpeg_of(const Image& img, int quality = 100, bool progressive = false) {
  JpegEncodeOptions o;
  o.quality = quality;
  o.progressive = progressive;
  return encode_jpeg(img.pixels.data(), img.width, img.height, JpegColor::rgb, o);
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

// A fresh folder under the system temp dir, removed with the object.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("mapet_data_") + info->test_suite_name() + "_" + info->name() + "_" +
                       std::to_string(std::random_device{}());
    path = fs::temp_directory_path() / name;
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
  std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

// Largest |a - b| over all bytes; the images must have the same size.
inline int max_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.pixels.size() != b.pixels.size()) return 256;
  int m = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) m = std::max(m, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return m;
}

}  // namespace mapet::data::test

namespace mapet::data::test {

// The same JPEG with the frame header (SOF0/SOF2) claiming another size: what a
// damaged or hostile file looks like to the decoder.
inline std::vector<uint8_t> with_claimed_size(std::vector<uint8_t> jpeg, int w, int h) {
  // Walk the marker segments (FF xx, then a 16-bit length) up to the frame header.
  for (size_t i = 2; i + 9 < jpeg.size() && jpeg[i] == 0xFF;) {
    if (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2) {
      jpeg[i + 5] = static_cast<uint8_t>(h >> 8), jpeg[i + 6] = static_cast<uint8_t>(h);
      jpeg[i + 7] = static_cast<uint8_t>(w >> 8), jpeg[i + 8] = static_cast<uint8_t>(w);
      return jpeg;
    }
    i += 2 + (size_t(jpeg[i + 2]) << 8 | jpeg[i + 3]);
  }
  ADD_FAILURE() << "no SOF marker";
  return jpeg;
}

}  // namespace mapet::data::test
