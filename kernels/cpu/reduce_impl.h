#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

namespace mapet::cpu {

template <class Partial>
void chunked_column_reduce(int64_t rows, int64_t cols, int n_outputs, float* const* outs, Partial partial) {
  const int64_t chunks = std::max<int64_t>(1, (rows + kReduceChunkRows - 1) / kReduceChunkRows);
  const int64_t width = cols * n_outputs;
  // Reused between calls (per calling thread; partial must not reduce again):
  // a fresh buffer of this size (~0.6 MiB for an fc1 bias gradient) comes
  // from mmap, and zeroing its new pages cost more than the reduction itself.
  static thread_local std::vector<float> acc_buffer;
  acc_buffer.assign(static_cast<size_t>(chunks * width), 0.0f);
  float* acc = acc_buffer.data();  // the caller's buffer (the workers have thread_locals of their own)
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t r0 = c * kReduceChunkRows, r1 = std::min(rows, r0 + kReduceChunkRows);
    partial(r0, r1, acc + c * width);
  }
  for (int o = 0; o < n_outputs; ++o) {
    float* out = outs[o];
    std::memset(out, 0, static_cast<size_t>(cols) * sizeof(float));
    for (int64_t c = 0; c < chunks; ++c) {
      const float* a = acc + c * width + o * cols;
      for (int64_t j = 0; j < cols; ++j) out[j] += a[j];
    }
  }
}

}  // namespace mapet::cpu
