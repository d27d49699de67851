// IEEE half <-> float32 on the host (f16 appears only in checkpoints).
#pragma once
#include <cstdint>

namespace mapet {

#if defined(__FLT16_MAX__)
using host_half = _Float16;
#else
using host_half = __fp16;  // g++ 12 on aarch64 has only ARM's storage type in C++
#endif

inline float half_to_float(uint16_t h) {
  host_half v;
  __builtin_memcpy(&v, &h, 2);
  return static_cast<float>(v);
}

inline uint16_t float_to_half(float f) {
  host_half v = static_cast<host_half>(f);
  uint16_t h;
  __builtin_memcpy(&h, &v, 2);
  return h;
}

}  // namespace mapet
