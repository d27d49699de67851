// cuda::cross_entropy_{forward,backward} (kernels/cuda/cross_entropy.cu) against cpu::: the
// pre-training loss, one row per predicted token (B*M rows) over the visual-token classes.
#include "kernels/cuda/cross_entropy.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/cross_entropy.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(cross_entropy) {
  const int64_t rows = b.shape().B * b.shape().M(), classes = b.shape().classes, n = rows * classes;
  const float smoothing = 0.0f, grad_scale = 1.0f / static_cast<float>(rows);
  const int64_t ignore = -100;
  const std::vector<float> x = b.randn(n, 3.0f);
  std::vector<int64_t> y(rows);
  std::mt19937_64 g(b.seed());
  for (int64_t& label : y) label = static_cast<int64_t>(g() % classes);
  std::vector<float> loss(rows), lse(rows), dx(n);
  const int64_t counted =
      cpu::cross_entropy_forward(x.data(), y.data(), loss.data(), lse.data(), rows, classes, smoothing, ignore);
  cpu::cross_entropy_backward(x.data(), y.data(), lse.data(), dx.data(), rows, classes, smoothing, ignore, grad_scale);

  twin::Case c;
  const float* d_x = c.input(x);
  const int64_t* d_y = c.input(y);
  float *d_loss = c.output<float>(rows), *d_lse = c.output<float>(rows), *d_dx = c.output<float>(n);
  int64_t got = -1;
  // The forward returns the count of rows, read back from the device: its time includes that wait.
  auto fwd = [&] { got = cuda::cross_entropy_forward(d_x, d_y, d_loss, d_lse, rows, classes, smoothing, ignore); };
  auto bwd = [&] { cuda::cross_entropy_backward(d_x, d_y, d_lse, d_dx, rows, classes, smoothing, ignore, grad_scale); };
  b.validate(c, [&] { fwd(); bwd(); });
  b.expect(got == counted, "counted rows " + std::to_string(got) + " (CPU " + std::to_string(counted) + ")");
  b.expect_close(c.read(d_lse), lse, {1e-6, 1e-6}, "lse");
  b.expect_close(c.read(d_loss), loss, {1e-5, 1e-5}, "row_loss");
  b.expect_close(c.read(d_dx), dx, {1e-5, 1e-8}, "dlogits");
  // Bytes: forward reads the logits and labels, writes loss and lse; backward reads logits, labels, lse
  // and writes dlogits.
  b.time("cross_entropy_forward (+ count read back)", fwd, {.bytes = 4.0 * n + 16.0 * rows});
  b.time("cross_entropy_backward", bwd, {.bytes = 8.0 * n + 12.0 * rows});
}
