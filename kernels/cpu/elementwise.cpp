#include "kernels/cpu/elementwise.h"

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce.h"

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

}  // namespace mapet::cpu::MAPET_ISA
