// The sample kernel (tests/simt/sample_kernel.cu), compiled by g++ for simt,
// against a CPU loop, in every thread order.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/simt/runtime.h"
#include "tests/simt/sample_kernel.h"

namespace {

TEST(SimtSample, RowSumsMatchTheCpu) {
  const int rows = 37, cols = 1000;  // awkward: cols is no multiple of the block
  std::vector<float> x(static_cast<size_t>(rows) * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) * 0.25f - 1.0f;  // exact sums
  const std::vector<float> y = mapet::simt::run_in_every_order([&] {
    std::vector<float> out(rows, -1.0f);
    mapet::simt_sample::row_sums(x.data(), out.data(), rows, cols);
    return out;
  });
  for (int r = 0; r < rows; ++r) {
    float want = 0;
    for (int c = 0; c < cols; ++c) want += x[static_cast<size_t>(r) * cols + c];
    EXPECT_EQ(y[r], want) << "row " << r;
  }
}

}  // namespace
