// cuda::sum_rows[_to_bf16], sum_squares and argmax_rows (kernels/cuda/reduce.cu) against cpu::: the bias
// gradient of the MLP's first layer (column sums over B*S rows x hidden), and the global
// gradient norm of clip_grad_norm over every parameter of the model.
#include "kernels/cuda/reduce.cuh"

#include "bench/cuda/params.h"
#include "kernels/cpu/reduce.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(sum_rows) {
  const int64_t rows = b.shape().rows(), cols = b.shape().hidden, n = rows * cols;
  const std::vector<float> x = b.randn(n);
  std::vector<float> out(cols), out2(cols);
  std::vector<uint16_t> x16(n);
  cpu::sum_rows(x.data(), out.data(), rows, cols);
  cpu::sum_rows_to_bf16(x.data(), out2.data(), rows, cols, x16.data());

  twin::Case c;
  const float* d_x = c.input(x);
  float *d_out = c.output<float>(cols), *d_out2 = c.output<float>(cols);
  uint16_t* d_x16 = c.output<uint16_t>(n);
  auto sum = [&] { cuda::sum_rows(d_x, d_out, rows, cols); };
  auto sum16 = [&] { cuda::sum_rows_to_bf16(d_x, d_out2, rows, cols, d_x16); };
  b.validate(c, [&] { sum(); sum16(); });
  // The same order within a chunk of 64 rows, another across chunks (error grows with rows).
  b.expect_close(c.read(d_out), out, {1e-6, 1e-5 * rows / 64.0}, "sum_rows");
  b.expect_close(c.read(d_out2), out2, {1e-6, 1e-5 * rows / 64.0}, "sum_rows_to_bf16 sums");
  b.expect_close(c.read(d_x16), x16, {}, "sum_rows_to_bf16 bf16 copy (bit for bit)");
  b.time("sum_rows", sum, {.bytes = 4.0 * (n + cols)});
  b.time("sum_rows_to_bf16", sum16, {.bytes = 6.0 * n + 4.0 * cols});  // + the bf16 copy written
}

MAPET_CUDA_BENCH(sum_squares) {
  const std::vector<int64_t> sizes = cuda_bench::vit_parameter_sizes(b.shape());
  twin::Case c;
  std::vector<std::vector<float>> host;
  std::vector<std::pair<const float*, int64_t>> on_cpu, on_device;
  double n = 0;
  for (int64_t size : sizes) {
    host.push_back(b.randn(size, 1e-3f));
    on_cpu.push_back({host.back().data(), size});
    on_device.push_back({c.input(host.back()), size});
    n += size;
  }
  const double want = cpu::sum_squares(on_cpu);
  double got = -1;
  auto norm = [&] { got = cuda::sum_squares(on_device); };
  b.validate(c, norm);
  // Double sums of float squares in another order: far below float precision.
  b.expect(std::abs(got - want) <= 1e-12 * want, "sum of squares over " + std::to_string(sizes.size()) +
                                                      " tensors, " + std::to_string(int64_t(n)) + " values");
  b.time("sum_squares (+ result read back)", norm, {.bytes = 4.0 * n});
}

// Top-1 predictions of the pre-training decoder (MaPeT's token accuracy): B*M
// rows over the visual-token classes, one read of the logits.
MAPET_CUDA_BENCH(argmax_rows) {
  const int64_t rows = b.shape().B * b.shape().M(), cols = b.shape().classes;
  const std::vector<float> x = b.randn(rows * cols);
  std::vector<int64_t> want(rows);
  cpu::argmax_rows(x.data(), want.data(), rows, cols);
  twin::Case c;
  const float* d_x = c.input(x);
  int64_t* d_i = c.output<int64_t>(rows);
  auto run = [&] { cuda::argmax_rows(d_x, d_i, rows, cols); };
  b.validate(c, run);
  b.expect_close(c.read(d_i), want, {}, "argmax_rows (the same indices)");
  b.time("argmax_rows", run, {.bytes = 4.0 * rows * cols + 8.0 * rows});
}
