#include "kernels/cpu/softmax.h"

#include <cmath>

#include "kernels/common/math.h"

namespace mapet::cpu::MAPET_ISA {

namespace {

float row_max(const float* x, int64_t cols) {
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < cols; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, float scale) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * cols;
    float* yr = y + i * cols;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < cols; ++j) m = xr[j] * scale > m ? xr[j] * scale : m;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; ++j) {
      float e = common::fast_exp(xr[j] * scale - m);
      yr[j] = e;
      s += e;
    }
    float inv = 1.0f / s;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* yr = y + i * cols;
    const float* dyr = dy + i * cols;
    float* dxr = dx + i * cols;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < cols; ++j) dot += yr[j] * dyr[j];
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) dxr[j] = scale * yr[j] * (dyr[j] - dot);
  }
}

float row_logsumexp(const float* x, int64_t cols) {
  float m = row_max(x, cols);
  if (m == -INFINITY) return m;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < cols; ++j) s += common::fast_exp(x[j] - m);
  return m + std::log(s);
}

}  // namespace mapet::cpu::MAPET_ISA

namespace mapet::cpu::MAPET_ISA {

namespace {

// One row: softmax where mask[j] == 0 blocks column j (mask may be null).
void masked_row_softmax(float* x, const uint8_t* mask, int64_t cols) {
  float m = -INFINITY;
  for (int64_t j = 0; j < cols; ++j)
    if (!mask || mask[j]) m = x[j] > m ? x[j] : m;
  if (m == -INFINITY) {
    for (int64_t j = 0; j < cols; ++j) x[j] = 0.0f;
    return;
  }
  float s = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    float e = (!mask || mask[j]) ? common::fast_exp(x[j] - m) : 0.0f;
    x[j] = e;
    s += e;
  }
  float inv = 1.0f / s;
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) x[j] *= inv;
}

}  // namespace

void masked_softmax_inplace(float* x, const uint8_t* mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk,
                            int64_t mask_b, int64_t mask_h) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < B * H * Tq; ++r) {
    int64_t i = r % Tq, h = (r / Tq) % H, b = r / (Tq * H);
    const uint8_t* row_mask = mask ? mask + (((b % mask_b) * mask_h + h % mask_h) * Tq + i) * Tk : nullptr;
    masked_row_softmax(x + r * Tk, row_mask, Tk);
  }
}

}  // namespace mapet::cpu::MAPET_ISA
