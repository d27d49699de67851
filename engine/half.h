// IEEE half <-> float32 on the host (f16 appears only in checkpoints).
#pragma once
#include <cstdint>

namespace mapet {

// _Float16 where the compiler has it; otherwise the storage-only __fp16 (g++ 12 on aarch64, and clang
// before 15 on x86: the fuzzing and TSan builds use Debian's clang 14), which converts the same way
// (round to nearest even, inf on overflow).
#if defined(__FLT16_MAX__) && !(defined(__clang__) && __clang_major__ < 15)
using host_half = _Float16;
#else
using host_half = __fp16;
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
