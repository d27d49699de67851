// cuda:: dropout and drop-path against cpu:: (the same Philox draws: bit for bit).
#include "kernels/cuda/dropout.cuh"

#include "kernels/cpu/dropout.h"
#include "kernels/cpu/elementwise.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n) { return test::randn({n}, test::fresh_seed()).to_vector(); }

// Offsets that start inside a Philox block of four words and sizes that end
// inside one; a seed with both halves set (the key is the seed's two words).
TEST(DropoutTwin, ForwardKeepsTheSameElementsAsCpu) {
  const uint64_t seed = 0x123456789abcdef1ull;
  for (auto [n, offset] : {std::pair<int64_t, uint64_t>{1, 0}, {1003, 6}, {4097, (1ull << 33) + 3}}) {
    const float p = 0.3f;
    std::vector<float> x = randn(n), y(n);
    std::vector<uint8_t> keep(n);
    cpu::dropout_forward(x.data(), y.data(), keep.data(), n, p, seed, offset);
    test::twin::Case c;
    const float* d_x = c.input(x);
    float* d_y = c.output<float>(n);
    uint8_t* d_keep = c.output<uint8_t>(n);
    c.run([&] { cuda::dropout_forward(d_x, d_y, d_keep, n, p, seed, offset); });
    const std::string at = " (n " + std::to_string(n) + ", offset " + std::to_string(offset) + ")";
    EXPECT_TRUE(test::twin::close(c.read(d_keep), keep, {}, "keep" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_y), y, {}, "y" + at));
  }
}

TEST(DropoutTwin, DropPathMatchesCpu) {
  const uint64_t seed = 77;
  for (auto [rows, row_len] : {std::pair<int64_t, int64_t>{1, 5}, {37, 12}, {300, 7}}) {
    const float p = 0.4f;
    const uint64_t offset = 5;
    std::vector<float> x = randn(rows * row_len), y(rows * row_len), scale(rows);
    cpu::drop_path_forward(x.data(), y.data(), scale.data(), rows, row_len, p, seed, offset);
    test::twin::Case c;
    const float* d_x = c.input(x);
    float *d_y = c.output<float>(rows * row_len), *d_scale = c.output<float>(rows);
    c.run([&] { cuda::drop_path_forward(d_x, d_y, d_scale, rows, row_len, p, seed, offset); });
    const std::string at = " (" + std::to_string(rows) + "x" + std::to_string(row_len) + ")";
    EXPECT_TRUE(test::twin::close(c.read(d_scale), scale, {}, "row_scale" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_y), y, {}, "y" + at));
  }
}

}  // namespace
}  // namespace mapet
