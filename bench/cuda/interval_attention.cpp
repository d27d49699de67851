// The fused two-stream interval attention (kernels/cuda/interval_attention.cu) against the CPU
// twin (kernels/cpu/interval_attention.cpp): objective mapet, heads merged ([B, rows, H, d], as
// the model lays out q, k and v), forward and backward, f32 and bf16 products.
// Tolerances relative to the largest value, as tests/kernels/interval_attention_test.cpp: f32
// 1e-5 (summation order); bf16 1e-2 (P and dS rounded to bf16 for their products; the twin gets
// Q, K, V, dO pre-rounded, as the kernel rounds them on load).
// FLOPs: only the visible (row, key) pairs count: 4 d per pair forward (S = Q K^T, O = P V),
// 10 d backward (S again, dP = dO V^T, dV, dK, dQ); the kernel's extra work (skipped tiles' edges,
// the dQ pass recomputing S and dP) is not counted.
#include "kernels/cuda/interval_attention.cuh"

#include <cmath>

#include "bench/cuda/bench.h"
#include "kernels/common/bf16.h"
#include "kernels/common/interval_mask.h"
#include "kernels/cpu/gemm.h"

using namespace mapet;
using namespace mapet::cuda_bench;

namespace {

using cuda::AttentionPrecision;

std::vector<float> bf16_rounded(std::vector<float> x) {
  for (float& v : x) v = common::bf16_to_float(common::float_to_bf16(v));
  return x;
}

void run(cuda_bench::Bench& b, AttentionPrecision prec) {
  const bool bf16 = prec == AttentionPrecision::bf16;
  const common::Objective obj = common::Objective::mapet;
  const int T = int(b.shape().T), L = int(b.shape().L);
  const int64_t B = b.shape().B, H = b.shape().heads, d = b.shape().head_dim();
  const int64_t Tq = common::mapet_query_rows(obj, T, L), Tk = common::mapet_key_rows(obj, T, L);
  std::vector<int32_t> re(Tq), ms(Tq);
  double pairs = 0;  // visible (row, key) pairs of one (sample, head)
  for (int r = 0; r < Tq; ++r) {
    const common::IntervalRow row = common::mapet_row_interval(obj, r, T, L);
    re[r] = row.real_end, ms[r] = row.mask_start;
    pairs += row.real_end + (Tk - T - row.mask_start);
  }
  const float scale = 1.0f / std::sqrt(float(d));
  // Scores of a few units (q, k ~ N(0, 1.5^2)), so that softmax is not flat.
  std::vector<float> q = b.randn(B * Tq * H * d, 1.5f), k = b.randn(B * Tk * H * d, 1.5f),
                     v = b.randn(B * Tk * H * d), dout = b.randn(B * Tq * H * d);
  auto view = [&](const float* x, int64_t rows) { return cpu::HeadsView{x, rows * H * d, d, H * d}; };
  auto oview = [&](float* x, int64_t rows) { return cpu::OutHeadsView{x, rows * H * d, d, H * d}; };

  // The CPU twin, f32 products, on the inputs the kernel effectively multiplies.
  const std::vector<float> tq = bf16 ? bf16_rounded(q) : q, tk = bf16 ? bf16_rounded(k) : k,
                           tv = bf16 ? bf16_rounded(v) : v, tdo = bf16 ? bf16_rounded(dout) : dout;
  std::vector<float> out(q.size()), lse(B * H * Tq), dq(q.size()), dk(k.size()), dv(v.size());
  {
    const cpu::GemmPrecision before = cpu::gemm_precision();
    cpu::set_gemm_precision(cpu::GemmPrecision::f32);
    const cpu::IntervalAttentionShape s{B, H, Tq, Tk, d, T, re.data(), ms.data(), scale};
    cpu::interval_attention_forward(s, view(tq.data(), Tq), view(tk.data(), Tk), view(tv.data(), Tk),
                                    oview(out.data(), Tq), lse.data());
    cpu::interval_attention_backward(s, view(tq.data(), Tq), view(tk.data(), Tk), view(tv.data(), Tk),
                                     view(out.data(), Tq), lse.data(), view(tdo.data(), Tq), oview(dq.data(), Tq),
                                     oview(dk.data(), Tk), oview(dv.data(), Tk));
    cpu::set_gemm_precision(before);
  }

  twin::Case c;
  const cpu::IntervalAttentionShape s{B, H, Tq, Tk, d, T, c.input(re), c.input(ms), scale};
  const float *d_q = c.input(q), *d_k = c.input(k), *d_v = c.input(v), *d_do = c.input(dout);
  const float *d_out_twin = c.input(out), *d_lse_twin = c.input(lse);  // the backward starts from the twin's
  float *d_out = c.output<float>(out.size()), *d_lse = c.output<float>(lse.size());
  float *d_dq = c.output<float>(dq.size()), *d_dk = c.output<float>(dk.size()), *d_dv = c.output<float>(dv.size());
  auto fwd = [&] {
    cuda::interval_attention_forward(s, view(d_q, Tq), view(d_k, Tk), view(d_v, Tk), oview(d_out, Tq), d_lse, prec);
  };
  auto bwd = [&] {
    cuda::interval_attention_backward(s, view(d_q, Tq), view(d_k, Tk), view(d_v, Tk), view(d_out_twin, Tq),
                                      d_lse_twin, view(d_do, Tq), oview(d_dq, Tq), oview(d_dk, Tk), oview(d_dv, Tk),
                                      prec);
  };
  b.validate(c, [&] { fwd(); bwd(); });
  const double tol = bf16 ? 1e-2 : 1e-5;
  b.expect_close_to_max(c.read(d_out), out, tol, "out");
  b.expect_close(c.read(d_lse), lse, bf16 ? twin::Tolerance{1e-4, 1e-4} : twin::Tolerance{1e-5, 1e-5}, "lse");
  b.expect_close_to_max(c.read(d_dq), dq, tol, "dq");
  b.expect_close_to_max(c.read(d_dk), dk, tol, "dk");
  b.expect_close_to_max(c.read(d_dv), dv, tol, "dv");

  const double bh = double(B * H), in = 4.0 * d * bh;  // bytes per row of one tensor, all (sample, head)s
  const std::string p = bf16 ? " (bf16 tensor cores)" : " (f32)";
  b.time("interval_attention_forward" + p, fwd,
         {.flops = 4.0 * d * pairs * bh, .bytes = in * (Tq + 2 * Tk + Tq) + 4.0 * bh * Tq, .tensor_cores = bf16});
  b.time("interval_attention_backward" + p, bwd,
         {.flops = 10.0 * d * pairs * bh, .bytes = in * (3 * Tq + 2 * Tk + Tq + 2 * Tk) + 4.0 * bh * Tq,
          .tensor_cores = bf16});
}

}  // namespace

MAPET_CUDA_BENCH(interval_attention_f32) { run(b, AttentionPrecision::f32); }
MAPET_CUDA_BENCH(interval_attention_bf16) { run(b, AttentionPrecision::bf16); }
