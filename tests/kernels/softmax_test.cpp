// cuda::softmax_{forward,backward} and masked_softmax_inplace against cpu::
// (tests/kernels/twin.h). The exponentials are the CPU's formula
// (common::fast_exp); the row sums are added in another order than the CPU's
// SIMD lanes, hence a tolerance of a few ulp rather than bits.
#include "kernels/cuda/softmax.cuh"

#include "kernels/cpu/softmax.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n, float std = 1.0f) { return test::randn({n}, test::fresh_seed(), std).to_vector(); }

constexpr test::twin::Tolerance kTol{4e-6, 1e-9};

// One column; fewer columns than a warp; a warp and one; many columns per lane.
// More rows than a block's eight warps; scale 1 and an attention scale.
TEST(SoftmaxTwin, ForwardAndBackwardMatchCpu) {
  for (auto [rows, cols, scale] : {std::tuple<int64_t, int64_t, float>{1, 1, 1.0f}, {3, 7, 1.0f}, {37, 33, 0.125f},
                                   {5, 300, 0.35f}}) {
    const int64_t n = rows * cols;
    std::vector<float> x = randn(n, 3.0f), dy = randn(n), y(n), dx(n);
    cpu::softmax_forward(x.data(), y.data(), rows, cols, scale);
    cpu::softmax_backward(y.data(), dy.data(), dx.data(), rows, cols, scale);
    test::twin::Case c;
    const float *d_x = c.input(x), *d_y_cpu = c.input(y), *d_dy = c.input(dy);
    float *d_y = c.output<float>(n), *d_dx = c.output<float>(n);
    float* d_inplace = c.inout(x);  // y aliasing x, as ops::softmax may ask
    c.run([&] {
      cuda::softmax_forward(d_x, d_y, rows, cols, scale);
      cuda::softmax_forward(d_inplace, d_inplace, rows, cols, scale);
      cuda::softmax_backward(d_y_cpu, d_dy, d_dx, rows, cols, scale);  // from the CPU's y: one kernel's error at a time
    });
    const std::string at = " (" + std::to_string(rows) + "x" + std::to_string(cols) + ")";
    EXPECT_TRUE(test::twin::close(c.read(d_y), y, kTol, "y" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_inplace), y, kTol, "y in place" + at));
    EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, {1e-5, 1e-7}, "dx" + at));
  }
}

TEST(SoftmaxTwin, BackwardInPlaceMatchesCpu) {  // dx aliasing dy (engine/ops/attention.cpp does)
  const int64_t rows = 9, cols = 45;
  std::vector<float> y(rows * cols), x = randn(rows * cols), dy = randn(rows * cols), dx(rows * cols);
  cpu::softmax_forward(x.data(), y.data(), rows, cols, 1.0f);
  cpu::softmax_backward(y.data(), dy.data(), dx.data(), rows, cols, 0.5f);
  test::twin::Case c;
  const float* d_y = c.input(y);
  float* d_g = c.inout(dy);
  c.run([&] { cuda::softmax_backward(d_y, d_g, d_g, rows, cols, 0.5f); });
  EXPECT_TRUE(test::twin::close(c.read(d_g), dx, {1e-5, 1e-7}, "dx in place"));
}

struct MaskCase {
  int64_t B, H, Tq, Tk, mask_b, mask_h;  // mask_b 0: no mask
};

// Mask per batch and head, shared over heads, shared over everything, none;
// every fourth row fully masked (all zeros); odd sizes.
TEST(SoftmaxTwin, MaskedInPlaceMatchesCpu) {
  for (MaskCase p : {MaskCase{2, 3, 5, 7, 2, 3}, MaskCase{3, 2, 9, 40, 3, 1}, MaskCase{1, 4, 3, 70, 1, 1},
                     MaskCase{2, 1, 3, 5, 0, 0}}) {
    const int64_t n = p.B * p.H * p.Tq * p.Tk;
    std::vector<float> x = randn(n, 2.0f), want = x;
    std::vector<uint8_t> mask;
    if (p.mask_b) {
      const int64_t rows = p.mask_b * p.mask_h * p.Tq;
      mask.resize(rows * p.Tk);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < p.Tk; ++j) mask[r * p.Tk + j] = r % 4 != 3 && (r * 7 + j * 3) % 5 != 0;
    }
    const uint8_t* m = p.mask_b ? mask.data() : nullptr;
    cpu::masked_softmax_inplace(want.data(), m, p.B, p.H, p.Tq, p.Tk, p.mask_b ? p.mask_b : 1, p.mask_h ? p.mask_h : 1);
    test::twin::Case c;
    const uint8_t* d_mask = p.mask_b ? c.input(mask) : nullptr;
    float* d_x = c.inout(x);
    c.run([&] {
      cuda::masked_softmax_inplace(d_x, d_mask, p.B, p.H, p.Tq, p.Tk, p.mask_b ? p.mask_b : 1, p.mask_h ? p.mask_h : 1);
    });
    EXPECT_TRUE(test::twin::close(c.read(d_x), want, kTol,
                                  "masked softmax " + std::to_string(p.B) + "x" + std::to_string(p.H) + "x" +
                                      std::to_string(p.Tq) + "x" + std::to_string(p.Tk)));
  }
}

}  // namespace
}  // namespace mapet
