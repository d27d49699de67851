// Image: 8-bit RGB pixels, interleaved, row-major (what the JPEG decoder gives
// and what the transforms read). A plain value type: copies copy the pixels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mapet::data {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // height x width x 3

  Image() = default;
  Image(int w, int h) : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3) {}
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * 3; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * 3; }
  uint8_t at(int x, int y, int c) const { return row(y)[x * 3 + c]; }
};

}  // namespace mapet::data
