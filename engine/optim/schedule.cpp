#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/elementwise.h"

namespace mapet::optim {

float CosineSchedule::lr_at(int64_t step) const {
  if (step < warmup_steps)
    return warmup_lr + (base_lr - warmup_lr) * static_cast<float>(step) / static_cast<float>(warmup_steps);
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(span));
  return static_cast<float>(min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * t)));
}

double clip_grad_norm(const std::vector<nn::NamedParam>& params, double max_norm) {
  double total = 0.0;
  for (const nn::NamedParam& p : params) {
    if (!p.var.grad().defined()) continue;
    Tensor g = p.var.grad().contiguous();
    const float* d = g.data<float>();
    double s = 0.0;
    for (int64_t i = 0; i < g.numel(); ++i) s += static_cast<double>(d[i]) * d[i];
    total += s;
  }
  double norm = std::sqrt(total);
  if (max_norm > 0.0 && norm > max_norm) {
    float coef = static_cast<float>(max_norm / (norm + 1e-6));
    for (const nn::NamedParam& p : params) {
      if (!p.var.grad().defined()) continue;
      // A fresh tensor: a gradient's storage may be shared with another's.
      Tensor g = p.var.grad().contiguous();
      Tensor scaled = Tensor::empty(g.shape());
      cpu::scale(g.data<float>(), coef, scaled.data<float>(), g.numel());
      p.var.set_grad(scaled);
    }
  }
  return norm;
}

}  // namespace mapet::optim
