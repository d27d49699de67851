// cuda::sum_rows, sum_rows_to_bf16 and sum_squares against cpu:: (tests/kernels/twin.h).
#include "kernels/cuda/reduce.cuh"

#include <cmath>

#include "kernels/cpu/reduce.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n) { return test::randn({n}, test::fresh_seed()).to_vector(); }

// rows x cols: tiny; a partial last chunk of 64 rows and a column tile of
// 128 plus a few; three chunks; no rows (the sums are zeros).
class SumRowsTwin : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(SumRowsTwin, MatchesCpu) {
  const auto [rows, cols] = GetParam();
  std::vector<float> x = randn(rows * cols), out(cols), out2(cols);
  std::vector<uint16_t> x16(rows * cols);
  cpu::sum_rows(x.data(), out.data(), rows, cols);
  cpu::sum_rows_to_bf16(x.data(), out2.data(), rows, cols, x16.data());
  test::twin::Case c;
  const float* d_x = c.input(x);
  float *d_out = c.output<float>(cols), *d_out2 = c.output<float>(cols);
  uint16_t* d_x16 = c.output<uint16_t>(rows * cols);
  c.run([&] {
    cuda::sum_rows(d_x, d_out, rows, cols);
    cuda::sum_rows_to_bf16(d_x, d_out2, rows, cols, d_x16);
  });
  // The same order within a chunk of 64 rows, another across chunks.
  EXPECT_TRUE(test::twin::close(c.read(d_out), out, {1e-6, 1e-5}, "sum_rows"));
  EXPECT_TRUE(test::twin::close(c.read(d_out2), out2, {1e-6, 1e-5}, "sum_rows_to_bf16 sums"));
  EXPECT_TRUE(test::twin::close(c.read(d_x16), x16, {}, "sum_rows_to_bf16 bf16"));  // bit for bit
}

INSTANTIATE_TEST_SUITE_P(Shapes, SumRowsTwin,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 3}, std::pair<int64_t, int64_t>{70, 131},
                                           std::pair<int64_t, int64_t>{150, 9}, std::pair<int64_t, int64_t>{0, 5}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "x" + std::to_string(info.param.second);
                         });

// Arrays: one value, one tile of 16384 plus one, an empty one, an unaligned
// one (offset 1: the scalar path), and a mid one.
TEST(SumSquaresTwin, MatchesCpu) {
  test::twin::Case c;
  std::vector<std::vector<float>> host;
  std::vector<std::pair<const float*, int64_t>> on_cpu, on_device;
  for (auto [n, offset] : {std::pair<int64_t, int64_t>{1, 0}, {16385, 0}, {0, 0}, {333, 1}, {40000, 0}}) {
    host.push_back(randn(n + offset));
    on_cpu.push_back({host.back().data() + offset, n});
    on_device.push_back({c.input(host.back()) + offset, n});
  }
  const double want = cpu::sum_squares(on_cpu);
  double got = -1.0;
  c.run([&] { got = cuda::sum_squares(on_device); });
  // Double sums of float squares in another order: far below float precision.
  EXPECT_NEAR(got, want, 1e-12 * want);
  EXPECT_EQ(cuda::sum_squares({}), 0.0);
}

}  // namespace
}  // namespace mapet
