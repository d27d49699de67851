#include "data/jpeg.h"

#include <turbojpeg.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/tensor.h"

namespace mapet::data {

namespace {

// One TurboJPEG decompressor per thread: handles are not thread-safe, and
// creating one per image costs more than decoding a small image. Compression
// gets a fresh handle per image: libjpeg-turbo 2.1 carries settings (the
// progressive scan script) from one tjCompress2 call to the next, so a baseline
// image encoded after a progressive one came out corrupt.
// The decompressor is also replaced after any failure: a handle that has seen
// a corrupt file can misread the next, good one ("Unsupported marker type").
struct Handle {
  tjhandle h;
  explicit Handle(bool compress) : h(compress ? tjInitCompress() : tjInitDecompress()) {
    if (!h) throw Error(std::string("cannot initialise TurboJPEG: ") + tjGetErrorStr2(nullptr));
  }
  ~Handle() { tjDestroy(h); }
};

std::unique_ptr<Handle>& decompressor_slot() {
  thread_local std::unique_ptr<Handle> handle;
  return handle;
}

tjhandle decompressor() {
  std::unique_ptr<Handle>& handle = decompressor_slot();
  if (!handle) handle = std::make_unique<Handle>(false);
  return handle->h;
}

// The message of the last failure, then a fresh handle for the next image.
std::string take_error_and_reset(tjhandle tj) {
  std::string msg = tjGetErrorStr2(tj);
  decompressor_slot().reset();
  return msg;
}

// Names common non-JPEG formats so the message says what the file really is.
const char* sniff_format(const uint8_t* d, size_t n) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(d, magic, len) == 0; };
  if (starts("\x89PNG", 4)) return "a PNG image";
  if (starts("GIF8", 4)) return "a GIF image";
  if (starts("BM", 2)) return "a BMP image";
  if (n >= 12 && starts("RIFF", 4) && std::memcmp(d + 8, "WEBP", 4) == 0) return "a WebP image";
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return "a TIFF image";
  return nullptr;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error("cannot open " + quoted(path) + ": " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  bool failed = std::ferror(f);
  int err = errno;
  std::fclose(f);
  if (failed) throw Error("cannot read " + quoted(path) + ": " + std::strerror(err));
  return out;
}

JpegInfo read_jpeg_info(const uint8_t* data, size_t size, const std::string& path) {
  if (size == 0) throw Error(quoted(path) + " is empty (0 bytes)");
  if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
    const char* what = sniff_format(data, size);
    throw Error(quoted(path) + " is not a JPEG file" + (what ? std::string(" (it is ") + what + ")" : ""));
  }
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  tjhandle tj = decompressor();
  if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &w, &h, &subsamp, &colorspace) != 0)
    throw Error(quoted(path) + " is not a readable JPEG (truncated or corrupt header): " + take_error_and_reset(tj));
  if (w <= 0 || h <= 0) throw Error(quoted(path) + " has an empty image (" + std::to_string(w) + "x" + std::to_string(h) + ")");
  if (static_cast<int64_t>(w) * h > kMaxImagePixels)
    throw Error(quoted(path) + " is " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the limit of " +
                std::to_string(kMaxImagePixels) + " (a decompression bomb or a damaged header)");
  JpegInfo info;
  info.width = w;
  info.height = h;
  info.cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  info.gray = colorspace == TJCS_GRAY;
  return info;
}

int pick_dct_denominator(double region_w, double region_h, int out_w, int out_h) {
  for (int d : {8, 4, 2})
    if (region_w / d >= out_w && region_h / d >= out_h) return d;
  return 1;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& path, int denom) {
  Image img;
  decode_jpeg_into(data, size, path, denom, img);
  return img;
}

void decode_jpeg_into(const uint8_t* data, size_t size, const std::string& path, int denom, Image& img) {
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8)
    throw Error("decode_jpeg(" + quoted(path) + "): scale 1/" + std::to_string(denom) + " is not one of 1, 1/2, 1/4, 1/8");
  JpegInfo info = read_jpeg_info(data, size, path);
  tjscalingfactor sf{1, denom};
  img.width = TJSCALED(info.width, sf);
  img.height = TJSCALED(info.height, sf);
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  tjhandle tj = decompressor();
  std::vector<uint8_t> cmyk;
  uint8_t* dst = img.pixels.data();
  int format = TJPF_RGB;
  if (info.cmyk) {  // libjpeg does not convert CMYK to RGB itself
    cmyk.resize(static_cast<size_t>(img.width) * img.height * 4);
    dst = cmyk.data();
    format = TJPF_CMYK;
  }
  int rc = tjDecompress2(tj, data, static_cast<unsigned long>(size), dst, img.width, 0, img.height, format, 0);
  if (rc != 0) {
    bool fatal_code = tjGetErrorCode(tj) == TJERR_FATAL;
    std::string msg = take_error_and_reset(tj);
    // libjpeg reports a file cut short as a warning and fills the rest with
    // grey: for training that is a wrong image, so it is an error here. Other
    // warnings (e.g. extraneous bytes before a marker) leave the image intact.
    // Both spellings: "Premature end of JPEG file" (no end marker) and "Corrupt
    // JPEG data: premature end of data segment" (cut, then an end marker).
    std::string lower = msg;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    bool fatal = fatal_code || lower.find("premature end") != std::string::npos;
    if (fatal) throw Error(quoted(path) + " could not be decoded (truncated or corrupt JPEG): " + msg);
  }
  if (info.cmyk) {
    // Adobe CMYK JPEGs (the kind libjpeg and Photoshop write) store inverted
    // inks: 255 means no ink. PIL (9.4, checked) reads them so and converts
    // with R = (255 - C)(255 - K) / 255, which on the stored values is s_C * s_K / 255.
    size_t n = static_cast<size_t>(img.width) * img.height;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* s = &cmyk[i * 4];
      for (int c = 0; c < 3; ++c) img.pixels[i * 3 + c] = static_cast<uint8_t>((s[c] * s[3] + 127) / 255);
    }
  }
}

std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int width, int height, JpegColor color,
                                 const JpegEncodeOptions& opt) {
  int format = color == JpegColor::rgb ? TJPF_RGB : color == JpegColor::gray ? TJPF_GRAY : TJPF_CMYK;
  int subsamp = color == JpegColor::gray ? TJSAMP_GRAY : opt.subsample ? TJSAMP_420 : TJSAMP_444;
  int flags = opt.progressive ? TJFLAG_PROGRESSIVE : 0;
  Handle handle(true);
  tjhandle tj = handle.h;
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  if (tjCompress2(tj, pixels, width, 0, height, format, &buf, &len, subsamp, opt.quality, flags) != 0) {
    std::string msg = tjGetErrorStr2(tj);
    tjFree(buf);
    throw Error("JPEG encoding of a " + std::to_string(width) + "x" + std::to_string(height) + " image failed: " + msg);
  }
  std::vector<uint8_t> out(buf, buf + len);
  tjFree(buf);
  return out;
}

}  // namespace mapet::data
