#include "kernels/cpu/layernorm.h"

#include <cmath>

#include "kernels/cpu/reduce.h"

namespace mapet::cpu::MAPET_ISA {

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t dim, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * dim;
    float* yr = y + i * dim;
    // Two passes (mean, then centred variance): stable where E[x^2]-E[x]^2 is not.
    float s = 0.0f;
    for (int64_t j = 0; j < dim; ++j) s += xr[j];
    float mu = s / static_cast<float>(dim);
    float ss = 0.0f;
    for (int64_t j = 0; j < dim; ++j) {
      float d = xr[j] - mu;
      ss += d * d;
    }
    float r = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t j = 0; j < dim; ++j) yr[j] = (xr[j] - mu) * r * gamma[j] + beta[j];
    mean[i] = mu;
    rstd[i] = r;
  }
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim) {
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * dim;
    const float* dyr = dy + i * dim;
    float* dxr = dx + i * dim;
    float mu = mean[i], r = rstd[i];
    float sum_g = 0.0f, sum_gx = 0.0f;
    for (int64_t j = 0; j < dim; ++j) {
      float g = dyr[j] * gamma[j];
      float xhat = (xr[j] - mu) * r;
      sum_g += g;
      sum_gx += g * xhat;
    }
    float mg = sum_g / static_cast<float>(dim), mgx = sum_gx / static_cast<float>(dim);
    for (int64_t j = 0; j < dim; ++j) {
      float xhat = (xr[j] - mu) * r;
      dxr[j] = r * (dyr[j] * gamma[j] - mg - xhat * mgx);
    }
  }
  float* outs[2] = {dgamma, dbeta};
  chunked_column_reduce(rows, dim, 2, outs, [&](int64_t r0, int64_t r1, float* acc) {
    float* ag = acc;
    float* ab = acc + dim;
    for (int64_t i = r0; i < r1; ++i) {
      const float* xr = x + i * dim;
      const float* dyr = dy + i * dim;
      float mu = mean[i], r = rstd[i];
      for (int64_t j = 0; j < dim; ++j) {
        ag[j] += dyr[j] * (xr[j] - mu) * r;
        ab[j] += dyr[j];
      }
    }
  });
}

}  // namespace mapet::cpu::MAPET_ISA
