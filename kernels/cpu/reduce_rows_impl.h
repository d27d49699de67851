#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

namespace mapet::cpu {

template <class Partial>
void chunked_column_reduce(int64_t rows, int64_t cols, int n_outputs, float* const* outs, Partial partial) {
  const int64_t chunks = std::max<int64_t>(1, (rows + kReduceChunkRows - 1) / kReduceChunkRows);
  const int64_t width = cols * n_outputs;
  std::vector<float> acc(static_cast<size_t>(chunks * width), 0.0f);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t r0 = c * kReduceChunkRows, r1 = std::min(rows, r0 + kReduceChunkRows);
    partial(r0, r1, acc.data() + c * width);
  }
  for (int o = 0; o < n_outputs; ++o) {
    float* out = outs[o];
    std::memset(out, 0, static_cast<size_t>(cols) * sizeof(float));
    for (int64_t c = 0; c < chunks; ++c) {
      const float* a = acc.data() + c * width + o * cols;
      for (int64_t j = 0; j < cols; ++j) out[j] += a[j];
    }
  }
}

}  // namespace mapet::cpu
