// cuda::embedding_forward (kernels/cuda/embedding.cu): rows of a table by index, against the
// plain loop (its CPU twin in the engine, ops::index_select, is that loop): one row of the
// visual-token table (classes x D) per patch of the batch.
#include "kernels/cuda/embedding.cuh"

#include <cstring>

#include "bench/cuda/bench.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(embedding) {
  const int64_t rows = b.shape().classes, dim = b.shape().D, n = b.shape().B * b.shape().P();
  const std::vector<float> table = b.randn(rows * dim);
  std::vector<int64_t> index(n);
  std::mt19937_64 g(b.seed());
  for (int64_t& i : index) i = static_cast<int64_t>(g() % rows);
  std::vector<float> want(n * dim);
  for (int64_t i = 0; i < n; ++i) std::memcpy(&want[i * dim], &table[index[i] * dim], dim * sizeof(float));

  twin::Case c;
  const float* d_table = c.input(table);
  const int64_t* d_index = c.input(index);
  float* d_out = c.output<float>(n * dim);
  auto fwd = [&] { cuda::embedding_forward(d_table, d_index, d_out, n, rows, dim); };
  b.validate(c, fwd);
  b.expect_close(c.read(d_out), want, {}, "rows (bit for bit)");
  b.time("embedding_forward", fwd, {.bytes = 8.0 * n * dim + 8.0 * n});  // rows read and written, indices
}
