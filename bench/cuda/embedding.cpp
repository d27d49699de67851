// cuda::embedding_forward (kernels/cuda/embedding.cu): rows of a table by index, against the
// plain loop (its CPU twin in the engine, ops::index_select, is that loop): one row of the
// visual-token table (classes x D) per patch of the batch.
#include "kernels/cuda/embedding.cuh"

#include <cstring>

#include "bench/cuda/bench.h"
// The backward's kernel and its CPU twin came together (branch k4): bench it where the twin is.
#if __has_include("kernels/cpu/embedding.h")
#include "kernels/cpu/embedding.h"
#define MAPET_BENCH_EMBEDDING_BACKWARD 1
#endif

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

#if defined(MAPET_BENCH_EMBEDDING_BACKWARD)
// cuda::embedding_backward against cpu::embedding_backward, bit for bit (indices in order within a
// table): ops::gather_tokens's backward, the B*S sequence rows of each image back into its T tokens.
MAPET_CUDA_BENCH(embedding_backward) {
  const int64_t batches = b.shape().B, n = b.shape().S(), rows = b.shape().T, dim = b.shape().D;
  const std::vector<float> dout = b.randn(batches * n * dim), table0 = b.randn(batches * rows * dim);
  std::vector<int64_t> index(batches * n);
  std::mt19937_64 g(b.seed());
  for (int64_t& i : index) i = static_cast<int64_t>(g() % rows);
  std::vector<float> want = table0;
  cpu::embedding_backward(dout.data(), index.data(), want.data(), batches, n, rows, dim);

  twin::Case c;
  const float* d_dout = c.input(dout);
  const int64_t* d_index = c.input(index);
  float* d_table = c.inout(table0);
  auto bwd = [&] { cuda::embedding_backward(d_dout, d_index, d_table, batches, n, rows, dim); };
  b.validate(c, bwd);
  b.expect_close(c.read(d_table), want, {}, "dtable (bit for bit)");
  // Accumulates: from the second launch on it adds to its own output (same work). Bytes: dout and
  // indices read, each table row read and written once per index that names it.
  b.time("embedding_backward", bwd, {.bytes = 12.0 * batches * n * dim + 8.0 * batches * n});
}
#endif
