// JPEG decoding and encoding through libjpeg-turbo's TurboJPEG API.
//
// Every image comes out as 8-bit RGB: grayscale is replicated, CMYK is
// converted as PIL does for Adobe (inverted) CMYK JPEGs, R = C * K / 255 on the
// stored values. Decoding can use the DCT scaling of the codec (1/2, 1/4, 1/8),
// which is much cheaper than decoding at full size and resizing: the transforms
// use it when their output is smaller than the region they read.
//
// Every failure throws mapet::Error with a message that names the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace mapet::data {

// PIL refuses images above this many pixels as decompression bombs; so do we,
// before allocating anything.
constexpr int64_t kMaxImagePixels = 178956970;

struct JpegInfo {
  int width = 0, height = 0;
  bool cmyk = false, gray = false;
};

// Reads the whole file; throws Error naming it when it is missing or unreadable.
std::vector<uint8_t> read_file(const std::string& path);

// Parses the header only. Throws Error (naming `path`) for an empty file, a file
// that is not a JPEG (a PNG, GIF, ... is named as such), or a bomb.
JpegInfo read_jpeg_info(const uint8_t* data, size_t size, const std::string& path);

// The largest d in {1, 2, 4, 8} such that a region_w x region_h region of the
// image, decoded at scale 1/d, still has at least out_w x out_h pixels: the
// resize that follows then only shrinks it further (by less than 2).
int pick_dct_denominator(double region_w, double region_h, int out_w, int out_h);

// Decodes to RGB at scale 1/denom (denom in {1, 2, 4, 8}); the result is
// ceil(width / denom) x ceil(height / denom). A truncated or corrupt file throws.
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& path, int denom = 1);
// The same into `out`, reusing its buffer when big enough (fresh pages cost
// more than decoding here: a first touch of 4 KiB is about 2 us).
void decode_jpeg_into(const uint8_t* data, size_t size, const std::string& path, int denom, Image& out);
inline Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& path, int denom = 1) {
  return decode_jpeg(bytes.data(), bytes.size(), path, denom);
}

// Encoding, used by `mapet prepare` and by tests to make fixtures.
enum class JpegColor { rgb, gray, cmyk };
struct JpegEncodeOptions {
  int quality = 95;
  bool progressive = false;
  bool subsample = false;  // 4:2:0 chroma (RGB only); 4:4:4 otherwise
};
// pixels: width*height*channels bytes (3 for rgb, 1 for gray, 4 for cmyk as stored).
std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int width, int height, JpegColor color,
                                 const JpegEncodeOptions& opt = {});

}  // namespace mapet::data
