// IEEE half <-> float32 on the host (f16 appears only in checkpoints).
#pragma once
#include <cstdint>

namespace mapet {

// _Float16 where the compiler has it; the storage-only __fp16 for g++ 12 on aarch64. Debian's clang 14
// (the fuzzing and TSan builds) has no _Float16 on x86 and lowers __fp16 to library calls
// (__gnu_h2f_ieee) that libgcc lacks there: it gets the conversions written out below, which
// round the same way (to nearest even, inf on overflow).
#if defined(__clang__) && __clang_major__ < 15 && (defined(__x86_64__) || defined(__i386__))
#define MAPET_SOFT_HALF 1
#elif defined(__FLT16_MAX__)
using host_half = _Float16;
#else
using host_half = __fp16;
#endif

// Written out (every build has them; tests/engine/tensor_test.cpp checks them against the compiler's).
inline float soft_half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant x 2^-24, exact in float
    const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  const uint32_t bits = sign | (exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t soft_float_to_half(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00 | static_cast<uint16_t>((a >> 13) & 0x3ff);  // NaN, quiet
  if (a >= 0x477ff000u) return sign | 0x7c00;  // 65520 and above round to inf
  if (a < 0x38800000u) {                       // below 2^-14: a subnormal half (or zero)
    const float v = __builtin_fabsf(f) * 16777216.0f;  // in units of 2^-24, exact
    return sign | static_cast<uint16_t>(__builtin_nearbyintf(v));  // 1024 is the smallest normal
  }
  a += 0xfff + ((a >> 13) & 1);  // round the 13 dropped bits to nearest even
  return sign | static_cast<uint16_t>((a - (112u << 23)) >> 13);
}

#if MAPET_SOFT_HALF
inline float half_to_float(uint16_t h) { return soft_half_to_float(h); }
inline uint16_t float_to_half(float f) { return soft_float_to_half(f); }
#else
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
#endif

}  // namespace mapet
