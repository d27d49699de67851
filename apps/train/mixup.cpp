#include "apps/train/mixup.h"

#include <algorithm>
#include <cmath>

#include "data/sample_rng.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/cross_entropy.h"

namespace mapet::apps::train {

namespace {

// Gamma(a, 1): Marsaglia & Tsang (2000) for a >= 1; for a < 1, Gamma(a + 1) * U^(1/a).
double sample_gamma(double a, const std::function<double()>& u) {
  if (a < 1.0) return sample_gamma(a + 1.0, u) * std::pow(1.0 - u(), 1.0 / a);
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    // A standard normal by Box-Muller.
    const double z = std::sqrt(-2.0 * std::log(1.0 - u())) * std::cos(2.0 * M_PI * u());
    const double v = std::pow(1.0 + c * z, 3);
    if (v <= 0) continue;
    const double x = 1.0 - u();
    if (std::log(x) < 0.5 * z * z + d - d * v + d * std::log(v)) return d * v;
  }
}

}  // namespace

double sample_beta(double a, double b, const std::function<double()>& u) {
  const double x = sample_gamma(a, u), y = sample_gamma(b, u);
  return x / (x + y);
}

Mix draw_mix(const MixupConfig& c, uint64_t seed, uint64_t key, int64_t h, int64_t w) {
  Mix m;
  if (!c.enabled()) return m;
  data::SampleRng rng(seed, 0x6d69787570ull /* "mixup" */, key);
  uint64_t word = 0;
  auto u = [&] { return rng.uniform(word++); };
  if (u() >= c.prob) return m;
  if (c.mixup_alpha > 0 && c.cutmix_alpha > 0)
    m.cutmix = u() < c.switch_prob;
  else
    m.cutmix = c.cutmix_alpha > 0;
  const double alpha = m.cutmix ? c.cutmix_alpha : c.mixup_alpha;
  double lam = sample_beta(alpha, alpha, u);
  if (m.cutmix) {
    // timm's rand_bbox: a box of (sqrt(1 - lam) h) x (sqrt(1 - lam) w) around a uniform centre, clipped to the
    // image; lam then becomes the share of the image left unpasted.
    const double r = std::sqrt(1.0 - lam);
    const int64_t ch = int64_t(double(h) * r), cw = int64_t(double(w) * r);
    const int64_t cy = std::min<int64_t>(h - 1, int64_t(u() * double(h)));
    const int64_t cx = std::min<int64_t>(w - 1, int64_t(u() * double(w)));
    m.y0 = std::clamp<int64_t>(cy - ch / 2, 0, h), m.y1 = std::clamp<int64_t>(cy + ch / 2, 0, h);
    m.x0 = std::clamp<int64_t>(cx - cw / 2, 0, w), m.x1 = std::clamp<int64_t>(cx + cw / 2, 0, w);
    lam = 1.0 - double((m.y1 - m.y0) * (m.x1 - m.x0)) / double(h * w);
  }
  m.lam = float(lam);
  return m;
}

void apply_mix(Tensor& images, const Mix& mix) {
  if (mix.lam == 1.0f) return;
  const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  const int64_t per = C * H * W;
  float* x = images.data<float>();
  // Pairs (i, B-1-i) read each other's original pixels: update both at once.
  for (int64_t i = 0; i < B / 2; ++i) {
    float* a = x + i * per;
    float* b = x + (B - 1 - i) * per;
    if (mix.cutmix) {
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = mix.y0; y < mix.y1; ++y)
          std::swap_ranges(a + (c * H + y) * W + mix.x0, a + (c * H + y) * W + mix.x1, b + (c * H + y) * W + mix.x0);
    } else {
      const float l = mix.lam, r = 1.0f - mix.lam;
      for (int64_t k = 0; k < per; ++k) {
        const float va = a[k], vb = b[k];
        a[k] = va * l + vb * r;
        b[k] = vb * l + va * r;
      }
    }
  }
  // An odd batch's middle sample is its own partner: mixing it with itself changes nothing.
}

Var mixed_cross_entropy(const Var& logits, const Tensor& labels, const Mix& mix, float smoothing) {
  Var own = ops::cross_entropy(logits, labels, smoothing);
  if (mix.lam == 1.0f) return own;
  const int64_t B = labels.size(0);
  const Tensor host = labels.to(Device::cpu);  // the labels may be on the model's device
  Tensor flipped = Tensor::empty({B}, DType::i64);
  for (int64_t i = 0; i < B; ++i) flipped.data<int64_t>()[i] = host.data<int64_t>()[B - 1 - i];
  Var other = ops::cross_entropy(logits, flipped.to(labels.device()), smoothing);
  return ops::add(ops::scale(own, mix.lam), ops::scale(other, 1.0f - mix.lam));
}

}  // namespace mapet::apps::train
