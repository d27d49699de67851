// cuda::to_bf16, round_to_bf16, from_bf16 (kernels/cuda/bf16.cu) against cpu::, bit for bit: the
// casts of the B*S x D activations for bf16 products.
#include "kernels/cuda/bf16.cuh"

#include "bench/cuda/bench.h"
#include "kernels/common/bf16.h"
#include "kernels/cpu/gemm.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(bf16) {
  const int64_t n = b.shape().rows() * b.shape().D;
  const std::vector<float> x = b.randn(n, 100.0f);
  std::vector<uint16_t> want16(n);
  std::vector<float> want_round(n), want_back(n);
  cpu::to_bf16(x.data(), want16.data(), n);
  cpu::round_to_bf16(x.data(), want_round.data(), n);
  for (int64_t i = 0; i < n; ++i) want_back[i] = common::bf16_to_float(want16[i]);

  twin::Case c;
  const float* d_x = c.input(x);
  const uint16_t* d_h = c.input(want16);
  uint16_t* d_16 = c.output<uint16_t>(n);
  float *d_round = c.output<float>(n), *d_back = c.output<float>(n);
  auto to = [&] { cuda::to_bf16(d_x, d_16, n); };
  auto round = [&] { cuda::round_to_bf16(d_x, d_round, n); };
  auto from = [&] { cuda::from_bf16(d_h, d_back, n); };
  b.validate(c, [&] { to(); round(); from(); });
  b.expect_close(c.read(d_16), want16, {}, "to_bf16 (bit for bit)");
  b.expect_close(c.read(d_round), want_round, {}, "round_to_bf16 (bit for bit)");
  b.expect_close(c.read(d_back), want_back, {}, "from_bf16 (bit for bit)");
  b.time("to_bf16", to, {.bytes = 6.0 * n});
  b.time("round_to_bf16", round, {.bytes = 8.0 * n});
  b.time("from_bf16", from, {.bytes = 6.0 * n});
}
