#include "kernels/cpu/embedding.h"

#include <cmath>
#include <cstring>

namespace mapet::cpu {

void embedding_forward(const float* table, const int64_t* index, float* out, int64_t batches, int64_t n, int64_t rows,
                       int64_t dim) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < batches * n; ++r) {
    const int64_t j = index[r];
    float* o = out + r * dim;
    if (j < 0 || j >= rows) {
      for (int64_t k = 0; k < dim; ++k) o[k] = NAN;
      continue;
    }
    std::memcpy(o, table + ((r / n) * rows + j) * dim, static_cast<size_t>(dim) * sizeof(float));
  }
}

void embedding_backward(const float* dout, const int64_t* index, float* dtable, int64_t batches, int64_t n,
                        int64_t rows, int64_t dim) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batches; ++b)  // tables are disjoint: a sample per thread, indices in order within it
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = index[b * n + i];
      if (j < 0 || j >= rows) continue;
      float* d = dtable + (b * rows + j) * dim;
      const float* s = dout + (b * n + i) * dim;
      for (int64_t k = 0; k < dim; ++k) d[k] += s[k];
    }
}

}  // namespace mapet::cpu
