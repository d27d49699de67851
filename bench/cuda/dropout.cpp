// cuda::dropout_forward and drop_path_forward (kernels/cuda/dropout.cu) against cpu::: the same
// Philox draws, so the same elements kept, bit for bit. Dropout over the B*S x D activations;
// drop path over B samples.
#include "kernels/cuda/dropout.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/dropout.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(dropout) {
  const int64_t n = b.shape().rows() * b.shape().D;
  const float p = 0.1f;
  const uint64_t seed = b.seed(), offset = 12345;
  const std::vector<float> x = b.randn(n);
  std::vector<float> y(n);
  std::vector<uint8_t> keep(n);
  cpu::dropout_forward(x.data(), y.data(), keep.data(), n, p, seed, offset);

  twin::Case c;
  const float* d_x = c.input(x);
  float* d_y = c.output<float>(n);
  uint8_t* d_keep = c.output<uint8_t>(n);
  auto fwd = [&] { cuda::dropout_forward(d_x, d_y, d_keep, n, p, seed, offset); };
  b.validate(c, fwd);
  b.expect_close(c.read(d_keep), keep, {}, "keep mask (bit for bit)");
  b.expect_close(c.read(d_y), y, {}, "y (bit for bit)");
  b.time("dropout_forward", fwd, {.bytes = 9.0 * n});  // read x, write y (4 B) and keep (1 B)
}

MAPET_CUDA_BENCH(drop_path) {
  const int64_t rows = b.shape().B, row_len = b.shape().S() * b.shape().D, n = rows * row_len;
  const float p = 0.1f;
  const uint64_t seed = b.seed(), offset = 7;
  const std::vector<float> x = b.randn(n);
  std::vector<float> y(n), scale(rows);
  cpu::drop_path_forward(x.data(), y.data(), scale.data(), rows, row_len, p, seed, offset);

  twin::Case c;
  const float* d_x = c.input(x);
  float *d_y = c.output<float>(n), *d_scale = c.output<float>(rows);
  auto fwd = [&] { cuda::drop_path_forward(d_x, d_y, d_scale, rows, row_len, p, seed, offset); };
  b.validate(c, fwd);
  b.expect_close(c.read(d_scale), scale, {}, "row_scale (bit for bit)");
  b.expect_close(c.read(d_y), y, {}, "y (bit for bit)");
  b.time("drop_path_forward", fwd, {.bytes = 8.0 * n});  // read x, write y
}
