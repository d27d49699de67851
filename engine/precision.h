// The precision policy: what `--amp` means on this CPU, decided in one place for
// every command, benchmark and test that asks for it.
//
// `--amp` asks for bf16 GEMMs and attention products (inputs rounded to bf16,
// f32 sums). Where the CPU has native bf16 dot products (AVX-512 BF16: Zen 4,
// Sapphire Rapids) they run at twice the f32 rate, and --amp gets them. Elsewhere
// the bf16 arithmetic could only be emulated: rounding the inputs and running the
// f32 GEMM, slower than plain f32 and less precise (bench/RESULTS.md measures
// it), so --amp keeps f32 there and says so. The kernels still honour an explicit
// bf16 precision on every CPU (kernels/cpu/gemm.h), for tests.
#pragma once
#include <string>

namespace mapet {

struct AmpChoice {
  bool requested = false;  // --amp was given
  bool bf16 = false;       // GEMMs and attention products run in bf16
  std::string note;        // non-empty when the request was not granted: why
};

// Sets the GEMM precision for the rest of the process and returns what was chosen.
AmpChoice configure_amp(bool requested);
// The current choice ("f32", "bf16") for progress lines and run folders.
const char* compute_precision_name();
// "CPU path avx2, no native bf16 (--amp runs f32), 2 threads; f32 GEMMs": what
// runs, for --version, the first progress lines and each run folder's config.yaml.
std::string compute_summary();

}  // namespace mapet
