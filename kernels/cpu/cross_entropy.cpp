#include "kernels/cpu/cross_entropy.h"

#include <stdexcept>
#include <string>

#include "kernels/common/math.h"
#include "kernels/cpu/softmax.h"

namespace mapet::cpu::MAPET_ISA {

int64_t cross_entropy_forward(const float* logits, const int64_t* labels, float* row_loss, float* lse, int64_t rows,
                              int64_t classes, float smoothing, int64_t ignore_index) {
  for (int64_t i = 0; i < rows; ++i) {
    int64_t y = labels[i];
    if (y != ignore_index && (y < 0 || y >= classes))
      throw std::out_of_range("cross_entropy: label " + std::to_string(y) + " at row " + std::to_string(i) +
                              " is outside [0, " + std::to_string(classes) + ")");
  }
  int64_t counted = 0;
#pragma omp parallel for schedule(static) reduction(+ : counted)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = logits + i * classes;
    float l = row_logsumexp(xr, classes);
    lse[i] = l;
    if (labels[i] == ignore_index) {
      row_loss[i] = 0.0f;
      continue;
    }
    float nll = l - xr[labels[i]];
    float loss = nll;
    if (smoothing > 0.0f) {
      float sum = 0.0f;
      for (int64_t j = 0; j < classes; ++j) sum += xr[j];
      float mean_nll = l - sum / static_cast<float>(classes);  // mean over classes of -log p_j
      loss = (1.0f - smoothing) * nll + smoothing * mean_nll;
    }
    row_loss[i] = loss;
    ++counted;
  }
  return counted;
}

void cross_entropy_backward(const float* logits, const int64_t* labels, const float* lse, float* dlogits,
                            int64_t rows, int64_t classes, float smoothing, int64_t ignore_index, float grad_scale) {
  const float off = smoothing / static_cast<float>(classes);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = logits + i * classes;
    float* dr = dlogits + i * classes;
    if (labels[i] == ignore_index) {
      for (int64_t j = 0; j < classes; ++j) dr[j] = 0.0f;
      continue;
    }
    float l = lse[i];
#pragma omp simd
    for (int64_t j = 0; j < classes; ++j) dr[j] = grad_scale * (common::fast_exp(xr[j] - l) - off);
    dr[labels[i]] -= grad_scale * (1.0f - smoothing);
  }
}

}  // namespace mapet::cpu::MAPET_ISA
