#include "data/fashion_mnist.h"

#include <zlib.h>

#include "engine/checked.h"
#include "engine/tensor.h"

namespace mapet::data {

const char* const kFashionMnistClasses[10] = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle_boot"};

namespace {

std::vector<uint8_t> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw Error("cannot open '" + path + "' (install Debian's dataset-fashion-mnist: apt-get install dataset-fashion-mnist)");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) throw Error("'" + path + "' is corrupt: " + msg);
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) | b[at + 3];
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& split, const std::string& dir) {
  std::string prefix = split == "train" ? "train" : (split == "val" || split == "test") ? "t10k" : "";
  if (prefix.empty()) throw Error("fashion-mnist: unknown split '" + split + "' (train, val)");
  std::string ipath = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  std::string lpath = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  std::vector<uint8_t> im = read_gz(ipath), lb = read_gz(lpath);
  if (im.size() < 16 || be32(im, 0) != 0x803) throw Error("'" + ipath + "' is not an IDX image file");
  if (lb.size() < 8 || be32(lb, 0) != 0x801) throw Error("'" + lpath + "' is not an IDX label file");
  FashionMnist d;
  d.count = be32(im, 4);
  d.rows = be32(im, 8);
  d.cols = be32(im, 12);
  if (be32(lb, 4) != d.count) throw Error("'" + lpath + "' and '" + ipath + "' hold different numbers of items");
  // Checked: a crafted header's product can wrap around to the real size.
  uint64_t pixels = 0;
  if (!mul_fits(uint64_t(d.count), uint64_t(d.rows), pixels) || !mul_fits(pixels, uint64_t(d.cols), pixels) ||
      im.size() - 16 != pixels)
    throw Error("'" + ipath + "' holds " + std::to_string(im.size() - 16) + " bytes of pixels where its header (" +
                std::to_string(d.count) + " images of " + std::to_string(d.rows) + "x" + std::to_string(d.cols) +
                ") needs more or fewer: truncated or damaged");
  if (lb.size() != 8 + static_cast<size_t>(d.count)) throw Error("'" + lpath + "' is truncated");
  d.images.assign(im.begin() + 16, im.end());
  d.labels.assign(lb.begin() + 8, lb.end());
  for (uint8_t l : d.labels)
    if (l >= 10) throw Error("'" + lpath + "' has a label outside 0..9");
  return d;
}

}  // namespace mapet::data
