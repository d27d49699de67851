#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/backend.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mapet::optim {

float CosineSchedule::lr_at(int64_t step) const {
  if (step < warmup_steps)
    return warmup_lr + (base_lr - warmup_lr) * static_cast<float>(step) / static_cast<float>(warmup_steps);
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(span));
  return static_cast<float>(min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * t)));
}

double clip_grad_norm(const std::vector<nn::NamedParam>& params, double max_norm) {
  // One parallel pass over all gradients, summed in fixed blocks (reduce.h),
  // so the norm is the same for any number of threads.
  std::vector<Tensor> grads;  // holds the contiguous copies alive
  std::vector<std::pair<const float*, int64_t>> arrays;
  Device dev = Device::cpu;
  for (const nn::NamedParam& p : params) {
    if (!p.var.grad().defined()) continue;
    grads.push_back(p.var.grad().contiguous());
    arrays.emplace_back(grads.back().data<float>(), grads.back().numel());
    dev = backend::device_of("clip_grad_norm", {grads.front(), grads.back()});
  }
  const double norm = std::sqrt(MAPET_BACKEND_CALL(dev, sum_squares, arrays));
  if (max_norm > 0.0 && norm > max_norm) {
    float coef = static_cast<float>(max_norm / (norm + 1e-6));
    for (const nn::NamedParam& p : params) {
      if (!p.var.grad().defined()) continue;
      // A fresh tensor: a gradient's storage may be shared with another's.
      Tensor g = p.var.grad().contiguous();
      Tensor scaled = Tensor::empty(g.shape(), DType::f32, dev);
      MAPET_BACKEND_CALL(dev, scale, g.data<float>(), coef, scaled.data<float>(), g.numel());
      p.var.set_grad(scaled);
    }
  }
  return norm;
}

}  // namespace mapet::optim
