// cuda:: bf16 casts against cpu::to_bf16 / round_to_bf16 and common::bf16_to_float: bit for bit.
#include "kernels/cuda/bf16.cuh"

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/common/bf16.h"
#include "kernels/cpu/gemm.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

// Random values plus the cases rounding gets wrong: ties to even both ways,
// the largest finite values (round to inf), infinities, NaNs (quieted, payload
// kept), denormals, signed zeros.
std::vector<float> awkward_floats(int64_t n) {
  std::vector<float> v = test::randn({n}, test::fresh_seed(), 100.0f).to_vector();
  const uint32_t bits[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u,
                           0x7fc00001u, 0x7f800001u, 0xffa00000u, 0x00000001u, 0x80400000u, 0x00000000u,
                           0x80000000u, 0x3f80ffffu, 0x477fe000u};
  for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && i < v.size(); ++i) std::memcpy(&v[i * 3 % n], &bits[i], 4);
  return v;
}

class Bf16Twin : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

// n: the vector body and a tail (n % 4 = 3), a tail only; offset 1 breaks alignment (the scalar kernel).
TEST_P(Bf16Twin, CastsMatchCpuBitForBit) {
  const auto [n, offset] = GetParam();
  std::vector<float> x = awkward_floats(n + offset);
  std::vector<uint16_t> want16(n);
  std::vector<float> want_round(n), want_back(n);
  cpu::to_bf16(x.data() + offset, want16.data(), n);
  cpu::round_to_bf16(x.data() + offset, want_round.data(), n);
  std::vector<uint16_t> h(n + offset);
  for (int64_t i = 0; i < n; ++i) h[i + offset] = want16[i];
  for (int64_t i = 0; i < n; ++i) want_back[i] = common::bf16_to_float(want16[i]);

  test::twin::Case c;
  const float* d_x = c.input(x) + offset;
  const uint16_t* d_h = c.input(h) + offset;
  uint16_t* d_16 = c.output<uint16_t>(n);
  float *d_round = c.output<float>(n), *d_back = c.output<float>(n);
  c.run([&] {
    cuda::to_bf16(d_x, d_16, n);
    cuda::round_to_bf16(d_x, d_round, n);
    cuda::from_bf16(d_h, d_back, n);
  });
  EXPECT_TRUE(test::twin::close(c.read(d_16), want16, {}, "to_bf16"));
  // NaN == NaN for close(); the bits are checked through to_bf16 above.
  EXPECT_TRUE(test::twin::close(c.read(d_round), want_round, {}, "round_to_bf16"));
  EXPECT_TRUE(test::twin::close(c.read(d_back), want_back, {}, "from_bf16"));
}

INSTANTIATE_TEST_SUITE_P(Sizes, Bf16Twin,
                         ::testing::Values(std::pair<int64_t, int64_t>{3, 0}, std::pair<int64_t, int64_t>{1003, 0},
                                           std::pair<int64_t, int64_t>{1003, 1}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + (info.param.second ? "_unaligned" : "");
                         });

}  // namespace
}  // namespace mapet
