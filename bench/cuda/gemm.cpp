// The GEMM kernels (kernels/cuda/gemm.cu) against cpu::gemm / gemm_bf16, at the MLP's first
// layer with its fused bias + GELU epilogue: C [B*S, hidden] = gelu(A [B*S, D] W^T + bias),
// W [hidden, D] (a linear layer: B transposed).
//   gemm_tc_bf16: bf16 operands (as --amp stores them), tensor cores, vs cpu::gemm_bf16;
//   gemm_tc:      f32 operands rounded to bf16 as they are staged, vs cpu::gemm at bf16 precision;
//   gemm_fma:     f32 on the CUDA cores, vs cpu::gemm at f32 precision.
// FLOPs: 2 M N K (the epilogue's M N bias adds and GELUs not counted).
#include "kernels/cuda/gemm.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/gemm.h"

using namespace mapet;
using namespace mapet::cuda_bench;

namespace {

enum class Path { tc_bf16, tc_f32, fma };

void run(cuda_bench::Bench& b, Path path) {
  const int64_t m = b.shape().rows(), n = b.shape().hidden, k = b.shape().D;
  cuda::GemmShape s;
  s.trans_b = true, s.m = m, s.n = n, s.k = k, s.lda = k, s.ldb = k, s.ldc = n;
  const std::vector<float> a = b.uniform(m * k, -1, 1), w = b.uniform(n * k, -1, 1), bias = b.uniform(n, -1, 1);
  std::vector<uint16_t> a16(a.size()), w16(w.size());
  cpu::to_bf16(a.data(), a16.data(), m * k);
  cpu::to_bf16(w.data(), w16.data(), n * k);

  std::vector<float> want(m * n);
  cpu::GemmShape cs;
  cs.trans_b = true, cs.m = m, cs.n = n, cs.k = k, cs.lda = k, cs.ldb = k, cs.ldc = n;
  const cpu::GemmPrecision before = cpu::gemm_precision();
  cpu::set_gemm_precision(path == Path::tc_f32 ? cpu::GemmPrecision::bf16 : cpu::GemmPrecision::f32);
  if (path == Path::tc_bf16) cpu::gemm_bf16(cs, a16.data(), w16.data(), want.data(), 1.0f, 0.0f, bias.data());
  else cpu::gemm(cs, a.data(), w.data(), want.data(), 1.0f, 0.0f, bias.data());
  cpu::set_gemm_precision(before);
  cpu::gelu_forward(want.data(), want.data(), m * n);

  twin::Case c;
  float* d_c = c.output<float>(m * n);
  const cuda::GemmEpilogue e{1.0f, 0.0f, c.input(bias), true};
  std::function<void()> launch;
  if (path == Path::tc_bf16) {
    const uint16_t *d_a = c.input(a16), *d_w = c.input(w16);
    launch = [=] { cuda::gemm_tc(s, d_a, d_w, d_c, e); };
  } else {
    const float *d_a = c.input(a), *d_w = c.input(w);
    launch = path == Path::fma ? std::function<void()>([=] { cuda::gemm_fma(s, d_a, d_w, d_c, e); })
                               : std::function<void()>([=] { cuda::gemm_tc(s, d_a, d_w, d_c, e); });
  }
  b.validate(c, launch);
  // Products exact in f32 either way; only the order of the sums differs (tests/kernels/gemm_test.cpp):
  // |error| <= (k + 4) 2^-24 (k + 1) for inputs in [-1, 1].
  const twin::Tolerance tol{1e-6, static_cast<double>(k + 4) * 0x1p-24 * static_cast<double>(k + 1)};
  const std::string dims = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  b.expect_close(c.read(d_c), want, tol, "C = gelu(A W^T + bias), " + dims);
  const char* name = path == Path::tc_bf16 ? "gemm_tc (bf16 operands) fc1+bias+gelu"
                     : path == Path::tc_f32 ? "gemm_tc (f32 operands) fc1+bias+gelu"
                                            : "gemm_fma fc1+bias+gelu";
  const double operand = path == Path::tc_bf16 ? 2.0 : 4.0;
  b.time(name, launch,
         {.flops = 2.0 * m * n * k, .bytes = operand * (m * k + n * k) + 4.0 * (m * n + n),
          .tensor_cores = path != Path::fma});
}

}  // namespace

MAPET_CUDA_BENCH(gemm_tc_bf16) { run(b, Path::tc_bf16); }
MAPET_CUDA_BENCH(gemm_tc) { run(b, Path::tc_f32); }
MAPET_CUDA_BENCH(gemm_fma) { run(b, Path::fma); }
