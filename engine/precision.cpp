#include "engine/precision.h"

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"
#include "kernels/cuda/gemm.cuh"

namespace mapet {

AmpChoice configure_amp(bool requested) {
  AmpChoice c;
  c.requested = requested;
  c.bf16 = requested && cpu::native_bf16();
  if (requested && !c.bf16)
    c.note = std::string("--amp: this CPU path (") + cpu::isa_name(cpu::active_isa()) +
             ") has no native bf16 dot products, so GEMMs stay f32 (emulated bf16 would be slower and less precise)";
  cuda::set_gemm_uses_bf16(requested);  // GPUs all have bf16 tensor cores: --amp is granted there as asked
  cpu::set_gemm_precision(c.bf16 ? cpu::GemmPrecision::bf16 : cpu::GemmPrecision::f32);
  return c;
}

const char* compute_precision_name() { return cpu::gemm_precision() == cpu::GemmPrecision::bf16 ? "bf16" : "f32"; }

std::string compute_summary() {
  return "CPU path " + cpu::cpu_path_summary() + "; " + compute_precision_name() + " GEMMs";
}

}  // namespace mapet
