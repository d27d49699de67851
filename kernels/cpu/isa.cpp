#include "kernels/cpu/isa.h"

#include <omp.h>
#if MAPET_ISA_X86
#include <cpuid.h>
#endif

#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>

namespace mapet::cpu {
namespace {

#if MAPET_ISA_X86
// From CPUID itself: clang 14 (the fuzzing and TSan builds) knows neither "f16c" nor "bmi2" in
// __builtin_cpu_supports. Neither needs OS support beyond AVX's, which the avx2 check covers.
bool f16c_and_bmi2() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C)) return false;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_BMI2);
}
#endif

Isa detect() {
#if MAPET_ISA_X86
  // GCC's checks include the OS's support (XCR0) for the AVX and AVX-512 registers.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c_and_bmi2();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  const bool bf16 = avx512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi") &&
                    __builtin_cpu_supports("avx512bf16");
  return bf16 ? Isa::avx512_bf16 : avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::generic;
#else
  return Isa::generic;
#endif
}

// oneDNN's GEMMs follow the same cap; it must be set before oneDNN's first primitive.
void cap_onednn(Isa isa) {
#if MAPET_ISA_X86
  const dnnl::cpu_isa to = isa == Isa::generic  ? dnnl::cpu_isa::sse41
                           : isa == Isa::avx2   ? dnnl::cpu_isa::avx2
                           : isa == Isa::avx512 ? dnnl::cpu_isa::avx512_core
                                                : dnnl::cpu_isa::avx512_core_bf16;
  // Fails (and is ignored) once oneDNN has fixed its level: an earlier primitive, or ONEDNN_MAX_CPU_ISA.
  (void)dnnl::set_max_cpu_isa(to);
#endif
}

Isa resolve() {
  const Isa detected = detect();
  const char* cap = std::getenv("MAPET_MAX_CPU_ISA");
  if (!cap || !*cap) return detected;
  const std::optional<Isa> want = parse_isa(cap);
  if (!want)
    throw std::invalid_argument(std::string("MAPET_MAX_CPU_ISA='") + cap +
                                "' is not a level (generic, avx2, avx512, avx512_bf16)");
  const Isa isa = *want < detected ? *want : detected;
  cap_onednn(isa);
  return isa;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa active_isa() {
  static const Isa isa = resolve();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512_bf16: return "avx512_bf16";
  }
  return "?";
}

std::optional<Isa> parse_isa(const std::string& name) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512, Isa::avx512_bf16})
    if (name == isa_name(isa)) return isa;
  return std::nullopt;
}

bool native_bf16() { return active_isa() == Isa::avx512_bf16; }

std::string cpu_path_summary() {
  std::string s = isa_name(active_isa());
  if (active_isa() != detected_isa()) s += std::string(" (capped by MAPET_MAX_CPU_ISA; CPU: ") + isa_name(detected_isa()) + ")";
  s += native_bf16() ? ", bf16 native" : ", no native bf16 (--amp runs f32)";
  s += ", " + std::to_string(omp_get_max_threads()) + (omp_get_max_threads() == 1 ? " thread" : " threads");
  return s;
}

}  // namespace mapet::cpu
