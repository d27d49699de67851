// One binary for every CPU: the kernels whose speed depends on the instruction
// set are compiled once per level (cmake/Isa.cmake) into namespaces isa_<level>,
// and a call picks the level at run time. The levels:
//   generic      what the compiler assumes for the target (x86-64: SSE2; also aarch64)
//   avx2         x86-64-v3: AVX2, FMA, F16C, BMI (Haswell, Zen 1-3)
//   avx512       x86-64-v4: AVX-512 F/BW/CD/DQ/VL (Skylake-X, Cascade Lake)
//   avx512_bf16  avx512 + VNNI, VBMI and BF16 dot products (Zen 4, Sapphire Rapids):
//                the only level where --amp runs bf16 GEMMs natively
// MAPET_MAX_CPU_ISA=<level> caps the level (and oneDNN's with it), so one
// machine can run the paths of older CPUs: the tests do (tests/CMakeLists.txt).
#pragma once
#include <optional>
#include <string>

namespace mapet::cpu {

enum class Isa { generic, avx2, avx512, avx512_bf16 };

Isa detected_isa();  // the highest level this CPU (and OS) supports
Isa active_isa();    // detected_isa(), capped by MAPET_MAX_CPU_ISA
const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(const std::string& name);
// True when the active level has native bf16 dot products (see --amp, engine/precision.h).
bool native_bf16();
// "avx2 (bf16: emulated, 2 threads)"-style summary for --version, progress lines and run configs.
std::string cpu_path_summary();

}  // namespace mapet::cpu

// ---------------------------------------------------------------------------
// A multi-level function. Its header says
//   MAPET_ISA_FUNCTION(void, gelu_forward, (const float* x, float* y, int64_t n), (x, y, n))
// which declares it in every level's namespace and defines the public
// mapet::cpu::gelu_forward that calls the active level's. Its source (compiled
// once per level, with MAPET_ISA = isa_<level>) defines it as
//   namespace mapet::cpu::MAPET_ISA { void gelu_forward(const float* x, float* y, int64_t n) { ... } }
// and may test the level's instruction set with the compiler's macros (__AVX2__, __AVX512F__, ...).
#if defined(__x86_64__) || defined(_M_X64)
#define MAPET_ISA_X86 1
#define MAPET_ISA_DECLARE(...)               \
  namespace isa_generic { __VA_ARGS__; }     \
  namespace isa_avx2 { __VA_ARGS__; }        \
  namespace isa_avx512 { __VA_ARGS__; }      \
  namespace isa_avx512_bf16 { __VA_ARGS__; }
#define MAPET_ISA_CALL(fn, args)                                                    \
  switch (::mapet::cpu::active_isa()) {                                             \
    case ::mapet::cpu::Isa::avx512_bf16: return isa_avx512_bf16::fn args;           \
    case ::mapet::cpu::Isa::avx512: return isa_avx512::fn args;                     \
    case ::mapet::cpu::Isa::avx2: return isa_avx2::fn args;                         \
    case ::mapet::cpu::Isa::generic: break;                                         \
  }                                                                                 \
  return isa_generic::fn args
#else
#define MAPET_ISA_X86 0
#define MAPET_ISA_DECLARE(...) \
  namespace isa_generic { __VA_ARGS__; }
#define MAPET_ISA_CALL(fn, args) return isa_generic::fn args
#endif

#define MAPET_ISA_FUNCTION(ret, name, params, args) \
  MAPET_ISA_DECLARE(ret name params)                \
  inline ret name params { MAPET_ISA_CALL(name, args); }
