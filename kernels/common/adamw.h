// One AdamW step for one element, in the order of operations of torch.optim.AdamW,
// so that our parameters track PyTorch's to the rounding of each operation.
#pragma once
#include <cmath>
#include "kernels/common/hd.h"

namespace mapet::common {

struct AdamWStep {
  float lr, beta1, beta2, eps, weight_decay;
  float bias_correction1;       // 1 - beta1^t
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};

MAPET_HD void adamw_update(const AdamWStep& s, float& p, float g, float& m, float& v) {
  p = p * (1.0f - s.lr * s.weight_decay);
  m = m + (g - m) * (1.0f - s.beta1);  // torch: exp_avg.lerp_(grad, 1 - beta1)
  v = v * s.beta2 + (1.0f - s.beta2) * g * g;
  float denom = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
  float step_size = s.lr / s.bias_correction1;
  p = p - step_size * (m / denom);
}

}  // namespace mapet::common
