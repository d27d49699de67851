#include "kernels/cpu/reduce_rows.h"

namespace mapet::cpu {

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols) {
  float* outs[1] = {out};
  chunked_column_reduce(rows, cols, 1, outs, [&](int64_t r0, int64_t r1, float* acc) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* row = x + i * cols;
      for (int64_t j = 0; j < cols; ++j) acc[j] += row[j];
    }
  });
}

}  // namespace mapet::cpu
