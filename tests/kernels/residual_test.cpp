// cuda::scaled_residual_{forward,backward} against cpu:: (tests/kernels/twin.h).
#include "kernels/cuda/residual.cuh"

#include "kernels/cpu/residual.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n, float std = 1.0f) { return test::randn({n}, test::fresh_seed(), std).to_vector(); }

struct ResCase {
  int64_t rows, tokens, dim;
  bool gamma, drop_path, dgamma;
};

// Scalar channels (dim 7), float4 channels with more lines than a chunk of
// the dgamma sums, a line wider than a warp's float4s; with and without layer
// scale, drop path and dgamma.
// (Drop path: samples 1, 3, ... dropped, the others scaled by 2.)
class ResidualTwin : public ::testing::TestWithParam<ResCase> {};

TEST_P(ResidualTwin, ForwardAndBackwardMatchCpu) {
  const ResCase p = GetParam();
  const int64_t row_len = p.tokens * p.dim, n = p.rows * row_len;
  std::vector<float> x = randn(n), y = randn(n), dout = randn(n), gamma = randn(p.dim, 0.1f);
  std::vector<float> scale(p.rows);
  for (int64_t r = 0; r < p.rows; ++r) scale[r] = r % 2 ? 0.0f : 2.0f;  // drop path p = 0.5: odd samples dropped
  const float* g = p.gamma ? gamma.data() : nullptr;
  const float* s = p.drop_path ? scale.data() : nullptr;

  std::vector<float> out(n), dy(n), dgamma(p.dim);
  cpu::scaled_residual_forward(x.data(), y.data(), g, s, out.data(), p.rows, row_len, p.dim);
  cpu::scaled_residual_backward(dout.data(), y.data(), g, s, dy.data(), p.dgamma ? dgamma.data() : nullptr, p.rows,
                                row_len, p.dim);

  test::twin::Case c;
  const float *d_x = c.input(x), *d_y = c.input(y), *d_dout = c.input(dout);
  const float* d_g = p.gamma ? c.input(gamma) : nullptr;
  const float* d_s = p.drop_path ? c.input(scale) : nullptr;
  float *d_out = c.output<float>(n), *d_dy = c.output<float>(n);
  float* d_dgamma = p.dgamma ? c.output<float>(p.dim) : nullptr;
  c.run([&] {
    cuda::scaled_residual_forward(d_x, d_y, d_g, d_s, d_out, p.rows, row_len, p.dim);
    cuda::scaled_residual_backward(d_dout, d_y, d_g, d_s, d_dy, d_dgamma, p.rows, row_len, p.dim);
  });
  EXPECT_TRUE(test::twin::close(c.read(d_out), out, {1e-6, 1e-7}, "out"));
  EXPECT_TRUE(test::twin::close(c.read(d_dy), dy, {1e-6, 1e-7}, "dy"));
  if (p.dgamma) EXPECT_TRUE(test::twin::close(c.read(d_dgamma), dgamma, {1e-5, 1e-5}, "dgamma"));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ResidualTwin,
                         ::testing::Values(ResCase{3, 5, 7, true, true, true}, ResCase{2, 41, 36, true, true, true},
                                           ResCase{2, 41, 36, false, false, true},
                                           ResCase{3, 2, 260, true, false, false},
                                           ResCase{5, 3, 9, false, true, false}),
                         [](const auto& info) {
                           const ResCase& p = info.param;
                           return std::to_string(p.rows) + "x" + std::to_string(p.tokens) + "x" + std::to_string(p.dim) +
                                  (p.gamma ? "_gamma" : "") + (p.drop_path ? "_droppath" : "") +
                                  (p.dgamma ? "_dgamma" : "");
                         });

}  // namespace
}  // namespace mapet
