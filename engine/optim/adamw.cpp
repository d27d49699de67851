#include "engine/optim/adamw.h"

#include <cmath>

#include "engine/backend.h"
#include "kernels/cpu/adamw.h"
#include "kernels/cuda/adamw.cuh"

namespace mapet::optim {

bool skips_weight_decay(const std::string& name, const Tensor& value) {
  if (value.dim() <= 1) return true;  // biases, norm weights, gammas
  for (const char* n : {"pos_embed", "cls_token", "mask_token", "mask_positional_token"})
    if (name == n) return true;
  return name.size() >= 5 && name.compare(name.size() - 5, 5, "gamma") == 0;
}

AdamW::AdamW(std::vector<nn::NamedParam> params, const AdamWConfig& c) : config(c) {
  for (nn::NamedParam& p : params) {
    Slot s{p, Tensor::zeros_like(p.var.value()), Tensor::zeros_like(p.var.value()),
           skips_weight_decay(p.name, p.var.value()) ? 0.0f : c.weight_decay};
    slots_.push_back(std::move(s));
  }
}

void AdamW::set_lr_scale(const std::string& name, float scale) {
  for (Slot& s : slots_)
    if (s.param.name == name) {
      s.lr_scale = scale;
      return;
    }
  throw Error("AdamW::set_lr_scale: no parameter named '" + name + "'");
}

void AdamW::step(float lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(config.beta1), static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(config.beta2), static_cast<double>(t_));
  for (Slot& s : slots_) {
    const Var& v = s.param.var;
    if (!v.grad().defined()) continue;  // no gradient reached it (as torch skips grad=None)
    Tensor g = v.grad().contiguous();
    Tensor& p = v.mutable_value();
    if (!p.is_contiguous()) throw Error("AdamW: parameter '" + s.param.name + "' is not contiguous");
    if (s.m.device() != p.device()) {  // the model moved (Module::to) after this optimizer was built: its state follows
      s.m = s.m.to(p.device());
      s.v = s.v.to(p.device());
    }
    const Device dev = backend::device_of("adamw", {p, g, s.m, s.v});
    common::AdamWStep st{lr * s.lr_scale, config.beta1, config.beta2, config.eps, s.weight_decay,
                         static_cast<float>(bc1), static_cast<float>(std::sqrt(bc2))};
    MAPET_BACKEND_CALL(dev, adamw_step, st, p.data<float>(), g.data<float>(), s.m.data<float>(), s.v.data<float>(),
                       p.numel());
  }
}

void AdamW::zero_grad() {
  for (Slot& s : slots_) s.param.var.zero_grad();
}

}  // namespace mapet::optim
