#include "kernels/cpu/reduce.h"

#include "kernels/common/bf16.h"
#include "kernels/cpu/parallel.h"

namespace mapet::cpu::MAPET_ISA {

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols) {
  float* outs[1] = {out};
  chunked_column_reduce(rows, cols, 1, outs, [&](int64_t r0, int64_t r1, float* acc) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* row = x + i * cols;
      for (int64_t j = 0; j < cols; ++j) acc[j] += row[j];
    }
  });
}

void sum_rows_to_bf16(const float* x, float* out, int64_t rows, int64_t cols, uint16_t* x16) {
  float* outs[1] = {out};
  chunked_column_reduce(rows, cols, 1, outs, [&](int64_t r0, int64_t r1, float* acc) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* row = x + i * cols;
      uint16_t* row16 = x16 + i * cols;
      for (int64_t j = 0; j < cols; ++j) {
        acc[j] += row[j];
        row16[j] = common::float_to_bf16(row[j]);
      }
    }
  });
}

double sum_squares(const std::vector<std::pair<const float*, int64_t>>& arrays) {
  struct Block {
    const float* p;
    int64_t n;
  };
  std::vector<Block> blocks;
  for (const auto& [p, n] : arrays)
    for (int64_t i = 0; i < n; i += kElementBlock) blocks.push_back({p + i, std::min(kElementBlock, n - i)});
  std::vector<double> partial(blocks.size());
  const int64_t nb = static_cast<int64_t>(blocks.size());
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < nb; ++b) {
    const float* x = blocks[b].p;
    const int64_t n = blocks[b].n;
    // 16 independent lanes: GCC vectorises them without reassociating a sum.
    double lanes[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; ++l) lanes[l] += static_cast<double>(x[i + l]) * x[i + l];
    for (; i < n; ++i) lanes[0] += static_cast<double>(x[i]) * x[i];
    double s = 0.0;
    for (double v : lanes) s += v;
    partial[b] = s;
  }
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace mapet::cpu::MAPET_ISA
