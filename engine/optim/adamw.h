// AdamW with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.
// Weight decay is skipped, as in timm, for biases, norms and other 1-D
// parameters, pos_embed, cls_token, mask tokens and layer-scale gammas.
#pragma once
#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace mapet::optim {

struct AdamWConfig {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.05f;
};

bool skips_weight_decay(const std::string& name, const Tensor& value);

class AdamW {
 public:
  AdamW(std::vector<nn::NamedParam> params, const AdamWConfig& c);

  // One update with the current gradients; lr overrides the configured one.
  // A parameter's moments live on its device: when the model was moved
  // (Module::to) after the optimizer was built, they follow it here.
  void step(float lr);
  void step() { step(config.lr); }
  void zero_grad();
  // Per-parameter lr multipliers (layer-wise lr decay); 1 by default.
  void set_lr_scale(const std::string& name, float scale);

  int64_t steps() const { return t_; }
  struct Slot {
    nn::NamedParam param;
    Tensor m, v;
    float weight_decay;
    float lr_scale = 1.0f;
  };
  std::vector<Slot>& slots() { return slots_; }
  void set_steps(int64_t t) { t_ = t; }

  AdamWConfig config;

 private:
  std::vector<Slot> slots_;
  int64_t t_ = 0;
};

}  // namespace mapet::optim
