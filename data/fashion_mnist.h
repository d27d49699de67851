// Fashion-MNIST (Xiao et al. 2017) as Debian's dataset-fashion-mnist ships it:
// gzipped IDX files under /usr/share/datasets/fashion-mnist.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mapet::data {

inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
extern const char* const kFashionMnistClasses[10];

struct FashionMnist {
  int64_t count = 0, rows = 28, cols = 28;
  std::vector<uint8_t> images;  // count x rows x cols, row-major
  std::vector<uint8_t> labels;  // count, in [0, 10)
};

// split: "train" (60000) or "val"/"test" (10000). Throws Error naming the file
// when it is missing, truncated or not IDX.
FashionMnist load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace mapet::data
