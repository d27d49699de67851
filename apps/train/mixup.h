// Mixup and CutMix as timm's Mixup in its default "batch" mode: one lambda
// per batch, sample i mixed with sample B-1-i (the batch flipped), and the
// targets mixed the same way. Every draw is keyed by (seed, micro-batch
// number), so a resumed run mixes exactly as an uninterrupted one.
//
// timm's SoftTargetCrossEntropy against lam * smooth(y) + (1 - lam) * smooth(y')
// equals lam * CE_s(y) + (1 - lam) * CE_s(y'), with CE_s the label-smoothed
// cross-entropy (cross-entropy is linear in the target), which is how the loss
// is computed here.
#pragma once
#include <cstdint>
#include <functional>

#include "engine/autograd.h"

namespace mapet::apps::train {

struct MixupConfig {
  float mixup_alpha = 0.0f;   // Beta(alpha, alpha) for mixup; 0: off
  float cutmix_alpha = 0.0f;  // Beta(alpha, alpha) for cutmix; 0: off
  float prob = 1.0f;          // chance a batch is mixed at all
  float switch_prob = 0.5f;   // with both on: chance of cutmix instead of mixup
  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

struct Mix {
  float lam = 1.0f;  // weight of each sample's own image and label; 1: not mixed
  bool cutmix = false;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;  // cutmix: the pasted box, rows [y0, y1) x columns [x0, x1)
};

// The mix of micro-batch `key` for images of h x w pixels (draws only, nothing applied).
Mix draw_mix(const MixupConfig& c, uint64_t seed, uint64_t key, int64_t h, int64_t w);

// Mixes images [B, C, H, W] in place as `mix` says.
void apply_mix(Tensor& images, const Mix& mix);

// lam * CE(logits, labels) + (1 - lam) * CE(logits, labels flipped), both with label smoothing.
Var mixed_cross_entropy(const Var& logits, const Tensor& labels, const Mix& mix, float smoothing);

// Beta(a, b) from two Gamma draws; u() returns uniforms in [0, 1). Exposed for the tests.
double sample_beta(double a, double b, const std::function<double()>& u);

}  // namespace mapet::apps::train
