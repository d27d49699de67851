#include "kernels/cpu/elementwise.h"

#include "kernels/common/philox.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_rows.h"

namespace mapet::cpu::MAPET_ISA {

void add(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void add_inplace(float* a, const float* b, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

void add_inplace_runs(float* a, const float* b, int64_t runs, int64_t run, int64_t a_stride) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < runs; ++r) {
    float* ar = a + r * a_stride;
    const float* br = b + r * run;
#pragma omp simd
    for (int64_t i = 0; i < run; ++i) ar[i] += br[i];
  }
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  parallel_blocks(n, [=](int64_t begin, int64_t end) {  // a contracted FMA must not depend on the split
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) y[i] += alpha * x[i];
  });
}

void mul(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void scale(const float* x, float alpha, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

void add_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b) {
  int64_t reps = n / n_b;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < reps; ++r) {
    const float* ar = a + r * n_b;
    float* yr = y + r * n_b;
#pragma omp simd
    for (int64_t j = 0; j < n_b; ++j) yr[j] = ar[j] + b[j];
  }
}

void mul_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b) {
  int64_t reps = n / n_b;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < reps; ++r) {
    const float* ar = a + r * n_b;
    float* yr = y + r * n_b;
#pragma omp simd
    for (int64_t j = 0; j < n_b; ++j) yr[j] = ar[j] * b[j];
  }
}

void mul_broadcast_grad_b(const float* dy, const float* a, float* db, int64_t n, int64_t n_b) {
  float* outs[1] = {db};
  chunked_column_reduce(n / n_b, n_b, 1, outs, [&](int64_t r0, int64_t r1, float* acc) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < n_b; ++j) acc[j] += dy[r * n_b + j] * a[r * n_b + j];
  });
}

void dropout_forward(const float* x, float* y, uint8_t* keep, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float s = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    bool k = common::philox_uniform(seed, offset + static_cast<uint64_t>(i)) >= p;
    keep[i] = k;
    y[i] = k ? x[i] * s : 0.0f;
  }
}

void drop_path_forward(const float* x, float* y, float* row_scale, int64_t rows, int64_t row_len, float p,
                       uint64_t seed, uint64_t offset) {
  drop_path_row_scales(row_scale, rows, p, seed, offset);
  row_scale_apply(x, row_scale, y, rows, row_len);
}

void drop_path_row_scales(float* row_scale, int64_t rows, float p, uint64_t seed, uint64_t offset) {
  const float s = 1.0f / (1.0f - p);
  for (int64_t r = 0; r < rows; ++r)
    row_scale[r] = common::philox_uniform(seed, offset + static_cast<uint64_t>(r)) >= p ? s : 0.0f;
}

void row_scale_apply(const float* x, const float* row_scale, float* y, int64_t rows, int64_t row_len) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float s = row_scale[r];
#pragma omp simd
    for (int64_t j = 0; j < row_len; ++j) y[r * row_len + j] = x[r * row_len + j] * s;
  }
}

}  // namespace mapet::cpu::MAPET_ISA
