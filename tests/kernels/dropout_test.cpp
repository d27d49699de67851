// cuda:: dropout (forward, backward) and drop-path against cpu:: (the same Philox draws: bit for bit).
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

// The backward from the CPU's keep mask: bit for bit, also in place (dx aliasing dy).
TEST(DropoutTwin, BackwardMatchesCpu) {
  for (int64_t n : {1, 7, 2051}) {
    const float p = 0.25f;
    std::vector<float> x = randn(n), y(n), dy = randn(n), dx(n);
    std::vector<uint8_t> keep(n);
    cpu::dropout_forward(x.data(), y.data(), keep.data(), n, p, 99, 1);
    cpu::dropout_backward(keep.data(), dy.data(), dx.data(), n, p);
    test::twin::Case c;
    const uint8_t* d_keep = c.input(keep);
    const float* d_dy = c.input(dy);
    float* d_dx = c.output<float>(n);
    float* d_g = c.inout(dy);
    c.run([&] {
      cuda::dropout_backward(d_keep, d_dy, d_dx, n, p);
      cuda::dropout_backward(d_keep, d_g, d_g, n, p);
    });
    EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, {}, "dx (n " + std::to_string(n) + ")"));
    EXPECT_TRUE(test::twin::close(c.read(d_g), dx, {}, "dx in place (n " + std::to_string(n) + ")"));
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

// The two halves of drop_path_forward as the engine calls them (the scales in
// ops::scaled_residual's forward, their application in ops::drop_path's
// backward): rows of 7 (scalar) and 36 (float4) values, and a skewed x (scalar).
TEST(DropoutTwin, RowScalesAndTheirApplicationMatchCpu) {
  for (auto [rows, row_len, skew] : {std::tuple<int64_t, int64_t, int64_t>{3, 7, 0}, {41, 36, 0}, {5, 36, 1}}) {
    const float p = 0.5f;
    std::vector<float> scale(rows), x = randn(rows * row_len + skew), y(rows * row_len);
    cpu::drop_path_row_scales(scale.data(), rows, p, 1234, 17);
    cpu::row_scale_apply(x.data() + skew, scale.data(), y.data(), rows, row_len);
    test::twin::Case c;
    float* d_scale = c.output<float>(rows);
    const float *d_x = c.input(x) + skew, *d_cpu_scale = c.input(scale);
    float* d_y = c.output<float>(rows * row_len);
    c.run([&] {
      cuda::drop_path_row_scales(d_scale, rows, p, 1234, 17);
      cuda::row_scale_apply(d_x, d_cpu_scale, d_y, rows, row_len);
    });
    const std::string at = " (" + std::to_string(rows) + "x" + std::to_string(row_len) + ")";
    EXPECT_TRUE(test::twin::close(c.read(d_scale), scale, {}, "row_scale" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_y), y, {}, "y" + at));
  }
}

}  // namespace
}  // namespace mapet
