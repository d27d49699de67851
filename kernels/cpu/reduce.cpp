#include "kernels/cpu/reduce.h"

#include "kernels/common/bf16.h"
#include "kernels/common/math.h"
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

void mean_dim(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  const float inv = 1.0f / static_cast<float>(n);
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    float* yr = y + o * inner;
    for (int64_t j = 0; j < inner; ++j) yr[j] = 0.0f;
    for (int64_t k = 0; k < n; ++k) {
      const float* xr = x + (o * n + k) * inner;
      for (int64_t j = 0; j < inner; ++j) yr[j] += xr[j];
    }
    for (int64_t j = 0; j < inner; ++j) yr[j] *= inv;
  }
}

void mean_dim_backward(const float* g, float* dx, int64_t outer, int64_t n, int64_t inner) {
  const float inv = 1.0f / static_cast<float>(n);
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < inner; ++j) dx[(o * n + k) * inner + j] = g[o * inner + j] * inv;
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

void argmax_rows(const float* x, int64_t* index, int64_t rows, int64_t cols) {
  if (cols == 0) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = x + i * cols;
    int64_t best = common::argmax_key(row[0], 0);
    for (int64_t j = 1; j < cols; ++j) {
      const int64_t k = common::argmax_key(row[j], j);
      best = k > best ? k : best;
    }
    index[i] = common::argmax_key_index(best);
  }
}

}  // namespace mapet::cpu::MAPET_ISA
