#include "engine/rng.h"

#include <cmath>

#include "kernels/common/philox.h"

namespace mapet {

uint32_t philox_u32(uint64_t key, uint64_t index) { return common::philox_u32(key, index); }

float Generator::uniform() { return common::philox_uniform(seed_, take(1)); }

uint64_t Generator::randint(uint64_t n) {
  uint64_t at = take(2);
  uint64_t r = (static_cast<uint64_t>(common::philox_u32(seed_, at)) << 32) | common::philox_u32(seed_, at + 1);
  return r % n;
}

void Generator::uniform_(Tensor& t, float lo, float hi) {
  t.check_dtype(DType::f32, "Generator::uniform_");
  if (!t.is_contiguous()) throw Error("Generator::uniform_ needs a contiguous tensor, got " + t.str());
  float* p = t.data<float>();
  int64_t n = t.numel();
  uint64_t at = take(static_cast<uint64_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = lo + (hi - lo) * common::philox_uniform(seed_, at + i);
}

namespace {
// Box-Muller on words 2i, 2i+1; u1 moved into (0, 1] so the log is finite.
float normal_at(uint64_t seed, uint64_t at, int64_t i) {
  float u1 = 1.0f - common::philox_uniform(seed, at + 2 * i);
  float u2 = common::philox_uniform(seed, at + 2 * i + 1);
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530717958648f * u2);
}
}  // namespace

void Generator::normal_(Tensor& t, float mean, float std) {
  t.check_dtype(DType::f32, "Generator::normal_");
  if (!t.is_contiguous()) throw Error("Generator::normal_ needs a contiguous tensor, got " + t.str());
  float* p = t.data<float>();
  int64_t n = t.numel();
  uint64_t at = take(2 * static_cast<uint64_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = mean + std * normal_at(seed_, at, i);
}

void Generator::trunc_normal_(Tensor& t, float std) {
  t.check_dtype(DType::f32, "Generator::trunc_normal_");
  if (!t.is_contiguous()) throw Error("Generator::trunc_normal_ needs a contiguous tensor, got " + t.str());
  float* p = t.data<float>();
  int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    float z;
    do {
      uint64_t at = take(2);
      z = normal_at(seed_, at, 0);
    } while (z < -2.0f || z > 2.0f);
    p[i] = std * z;
  }
}

}  // namespace mapet
