// IEEE half <-> float32 on the host (f16 appears only in checkpoints).
#pragma once
#include <cstdint>

namespace mapet {

// clang before 15 has no _Float16 on x86 (the fuzzing and TSan builds use Debian's clang 14);
// its storage-only __fp16 converts the same way (round to nearest even, inf on overflow).
#if defined(__clang__) && __clang_major__ < 15
using HostHalf = __fp16;
#else
using HostHalf = _Float16;
#endif

inline float half_to_float(uint16_t h) {
  HostHalf v;
  __builtin_memcpy(&v, &h, 2);
  return static_cast<float>(v);
}

inline uint16_t float_to_half(float f) {
  HostHalf v = static_cast<HostHalf>(f);
  uint16_t h;
  __builtin_memcpy(&h, &v, 2);
  return h;
}

}  // namespace mapet
