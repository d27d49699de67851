// IEEE half <-> float32 on the host (f16 appears only in checkpoints).
#pragma once
#include <cstdint>

namespace mapet {

inline float half_to_float(uint16_t h) {
  _Float16 v;
  __builtin_memcpy(&v, &h, 2);
  return static_cast<float>(v);
}

inline uint16_t float_to_half(float f) {
  _Float16 v = static_cast<_Float16>(f);
  uint16_t h;
  __builtin_memcpy(&h, &v, 2);
  return h;
}

}  // namespace mapet
