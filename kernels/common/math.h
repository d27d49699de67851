// Scalar math written so that loops over it vectorise (no branches, no libm
// calls), and so that the CPU and CUDA kernels compute the same values.
#pragma once
#include "kernels/common/hd.h"

namespace mapet::common {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// e^x with relative error below 2e-7 on the whole float range; 0 below -87.3.
MAPET_HD float fast_exp(float x) {
  float xc = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  float n = __builtin_floorf(xc * kLog2e + 0.5f);
  float r = xc - n * 0.693145751953125f;  // ln2, split so n*ln2_hi is exact
  r = r - n * 1.42860682030941723e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  float scale = bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
  float y = p * scale;
  return x < -87.3f ? 0.0f : y;
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), odd-extended.
MAPET_HD float fast_erf(float x) {
  float ax = x < 0.0f ? -x : x;
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  float y = 1.0f - p * t * fast_exp(-ax * ax);
  return x < 0.0f ? -y : y;
}

// GELU as timm/PyTorch define it by default: x * Phi(x), Phi the normal CDF (erf form).
MAPET_HD float gelu(float x) { return 0.5f * x * (1.0f + fast_erf(x * kInvSqrt2)); }

// d gelu / dx = Phi(x) + x * phi(x).
MAPET_HD float gelu_grad(float x) {
  float cdf = 0.5f * (1.0f + fast_erf(x * kInvSqrt2));
  float pdf = kInvSqrt2Pi * fast_exp(-0.5f * x * x);
  return cdf + x * pdf;
}

// argmax as a max over integer keys: a key orders by value, then by lower
// index, so the largest key names the first largest value of a row (what
// std::max_element returns on finite values) whatever order the keys are
// combined in. NaN counts as -inf and -0 as +0; j < 2^32.
MAPET_HD int64_t argmax_key(float v, int64_t j) {
  const float w = v != v ? bits_to_float(0xFF800000u) : v + 0.0f;  // NaN -> -inf; -0 + 0 = +0
  int32_t b = static_cast<int32_t>(float_to_bits(w));
  b = b < 0 ? b ^ 0x7FFFFFFF : b;  // negative floats: larger magnitude, smaller key
  return static_cast<int64_t>(b) * 4294967296LL + (4294967295LL - j);
}
MAPET_HD int64_t argmax_key_index(int64_t key) { return 4294967295LL - (key & 0xFFFFFFFFLL); }

}  // namespace mapet::common
