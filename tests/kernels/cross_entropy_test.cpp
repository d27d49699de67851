// cuda::cross_entropy_{forward,backward} against cpu:: (tests/kernels/twin.h).
#include "kernels/cuda/cross_entropy.cuh"

#include "kernels/cpu/cross_entropy.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

struct CeCase {
  int64_t rows, classes;
  float smoothing;
};

// The pre-training head's 8192 classes (float4 rows), a width that is no
// multiple of 4 or of the block, and a tiny one; every fourth row ignored.
class CrossEntropyTwin : public ::testing::TestWithParam<CeCase> {};

TEST_P(CrossEntropyTwin, ForwardAndBackwardMatchCpu) {
  const auto [rows, classes, smoothing] = GetParam();
  const int64_t ignore = -100;
  std::vector<float> x = test::randn({rows * classes}, test::fresh_seed(), 3.0f).to_vector();
  std::vector<int64_t> y(rows);
  for (int64_t i = 0; i < rows; ++i) y[i] = i % 4 == 3 ? ignore : (i * 7919 + 13) % classes;
  const float grad_scale = 1.0f / 3.0f;

  std::vector<float> loss(rows), lse(rows), dx(rows * classes);
  const int64_t counted = cpu::cross_entropy_forward(x.data(), y.data(), loss.data(), lse.data(), rows, classes,
                                                     smoothing, ignore);
  cpu::cross_entropy_backward(x.data(), y.data(), lse.data(), dx.data(), rows, classes, smoothing, ignore, grad_scale);

  test::twin::Case c;
  const float* d_x = c.input(x);
  const int64_t* d_y = c.input(y);
  float *d_loss = c.output<float>(rows), *d_lse = c.output<float>(rows), *d_dx = c.output<float>(rows * classes);
  int64_t got_counted = -1;
  c.run([&] {
    got_counted = cuda::cross_entropy_forward(d_x, d_y, d_loss, d_lse, rows, classes, smoothing, ignore);
    cuda::cross_entropy_backward(d_x, d_y, d_lse, d_dx, rows, classes, smoothing, ignore, grad_scale);
  });
  EXPECT_EQ(got_counted, counted);
  // Sums over the classes in another order: a few ulps of lse, which the loss inherits.
  EXPECT_TRUE(test::twin::close(c.read(d_lse), lse, {1e-6, 1e-6}, "lse"));
  EXPECT_TRUE(test::twin::close(c.read(d_loss), loss, {1e-5, 1e-5}, "row_loss"));
  EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, {1e-5, 1e-8}, "dlogits"));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossEntropyTwin,
                         ::testing::Values(CeCase{6, 8192, 0.1f}, CeCase{6, 8192, 0.0f}, CeCase{9, 1003, 0.1f},
                                           CeCase{4, 3, 0.2f}),
                         [](const auto& info) {
                           return std::to_string(info.param.rows) + "x" + std::to_string(info.param.classes) +
                                  (info.param.smoothing > 0 ? "_smoothed" : "");
                         });

TEST(CrossEntropyTwin, BadLabelThrowsAsOnCpu) {
  const int64_t rows = 5, classes = 10;
  std::vector<float> x(rows * classes, 0.5f);
  std::vector<int64_t> y = {1, -100, 3, 10, 2};
  std::vector<float> loss(rows), lse(rows);
  EXPECT_THROW(cpu::cross_entropy_forward(x.data(), y.data(), loss.data(), lse.data(), rows, classes, 0.0f, -100),
               std::out_of_range);
  test::twin::Case c;
  const float* d_x = c.input(x);
  const int64_t* d_y = c.input(y);
  float *d_loss = c.output<float>(rows), *d_lse = c.output<float>(rows);
  try {
    c.run([&] { cuda::cross_entropy_forward(d_x, d_y, d_loss, d_lse, rows, classes, 0.0f, -100); });
    ADD_FAILURE() << "no exception for label 10 of 10 classes";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "cross_entropy: label 10 at row 3 is outside [0, 10)");
  }
}

}  // namespace
}  // namespace mapet
