// The machine's GEMM rate through kernels/cpu/gemm.h, f32 and bf16 (--amp), on
// large square matrices and on the exact GEMMs of a ViT-Small/16 training step
// at batch 32. Counter GFLOP/s is 2 m n k per call over wall time. The peak
// used for MFU is the best f32 figure on the large square shapes; it is printed
// at the end (feed it to vit_step as MAPET_GEMM_PEAK_GFLOPS if you like).
//
//   build-bench/bench/gemm_peak [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "bench/bench_common.h"
#include "engine/threads.h"
#include "kernels/cpu/isa.h"

namespace {

using mapet::cpu::GemmPrecision;
using mapet::cpu::GemmShape;

const char* precision_name(GemmPrecision p) { return p == GemmPrecision::f32 ? "f32" : "bf16"; }

// Best GFLOP/s seen per benchmark family ("square/f32", ...), from our own clock
// so that it does not depend on the reporter chosen on the command line.
std::map<std::string, double> g_best;

// Times `call` (which does `flops` FLOPs) under Google Benchmark.
template <class F>
void run_timed(benchmark::State& state, const std::string& family, double flops, F call) {
  call();  // primitive creation, bf16 buffers, first touch
  int64_t n = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    call();
    ++n;
  }
  double gflops = n * flops / mapet::bench::seconds_since(t0) / 1e9;
  g_best[family] = std::max(g_best[family], gflops);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Tightly packed C = op(A) op(B), as engine/ops/linear.cpp calls it.
void bm_gemm(benchmark::State& state, GemmPrecision p, std::string family, bool ta, bool tb, int64_t m, int64_t n,
             int64_t k) {
  mapet::cpu::set_gemm_precision(p);
  std::vector<float> a = mapet::bench::random_floats(m * k, 1), b = mapet::bench::random_floats(k * n, 2), c(m * n);
  run_timed(state, family, 2.0 * m * n * k,
            [&] { mapet::cpu::gemm(ta, tb, m, n, k, a.data(), b.data(), c.data()); });
  mapet::cpu::set_gemm_precision(GemmPrecision::f32);
}

// The attention GEMMs as engine/ops/attention.cpp issues them: one call per
// sample, each a batch of H heads read in place from [B, T, H, d] (q/k/v) or
// [B, H, T, T] (probabilities).
void bm_attention(benchmark::State& state, GemmPrecision p, bool scores) {
  const int64_t B = 32, H = 6, T = 197, d = 64, D = H * d;
  mapet::cpu::set_gemm_precision(p);
  std::vector<float> x = mapet::bench::random_floats(B * T * D, 1), y = mapet::bench::random_floats(B * T * D, 2);
  std::vector<float> probs = mapet::bench::random_floats(B * H * T * T, 3), out(B * H * T * T);
  GemmShape s;
  s.batch = H;
  if (scores) {  // S = Q K^T: [T, d] x [T, d]^T per head
    s.trans_b = true, s.m = T, s.n = T, s.k = d, s.lda = D, s.ldb = D, s.ldc = T;
    s.stride_a = d, s.stride_b = d, s.stride_c = T * T;
  } else {  // O = P V: [T, T] x [T, d] per head
    s.m = T, s.n = d, s.k = T, s.lda = T, s.ldb = D, s.ldc = d;
    s.stride_a = T * T, s.stride_b = d, s.stride_c = T * d;
  }
  const float* a = scores ? x.data() : probs.data();
  const int64_t a_sample = scores ? T * D : H * T * T;
  run_timed(state, std::string("attention/") + precision_name(p), 2.0 * B * H * T * T * d, [&] {
    for (int64_t b = 0; b < B; ++b)
      mapet::cpu::gemm(s, a + b * a_sample, y.data() + b * T * D, out.data() + b * H * T * T);
  });
  mapet::cpu::set_gemm_precision(GemmPrecision::f32);
}

void register_all() {
  for (GemmPrecision p : {GemmPrecision::f32, GemmPrecision::bf16}) {
    const std::string pn = precision_name(p);
    for (int64_t n : {1024, 2048, 4096})
      benchmark::RegisterBenchmark(("square/" + pn + "/" + std::to_string(n)).c_str(), bm_gemm, p, "square/" + pn,
                                   false, false, n, n, n)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    // ViT-Small linears at batch 32: M = 32 * 197 token rows; (K in, N out).
    const int64_t M = 32 * 197;
    struct Layer {
      const char* name;
      int64_t k, n;
    };
    for (Layer l : {Layer{"q_proj", 384, 384}, Layer{"kv", 384, 768}, Layer{"qkv_fused", 384, 1152},
                    Layer{"fc1", 384, 1536}, Layer{"fc2", 1536, 384}}) {
      const std::string base = "vit_s/" + pn + "/" + l.name;
      // forward y = x W^T; backward dx = g W; dW = g^T x (engine/ops/linear.cpp).
      benchmark::RegisterBenchmark((base + "/fwd").c_str(), bm_gemm, p, "vit_s/" + pn, false, true, M, l.n, l.k)
          ->UseRealTime()->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((base + "/dx").c_str(), bm_gemm, p, "vit_s/" + pn, false, false, M, l.k, l.n)
          ->UseRealTime()->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((base + "/dw").c_str(), bm_gemm, p, "vit_s/" + pn, true, false, l.n, l.k, M)
          ->UseRealTime()->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(("attention/" + pn + "/qk").c_str(), bm_attention, p, true)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("attention/" + pn + "/pv").c_str(), bm_attention, p, false)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  mapet::init_threads_from_env();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::printf("\nCPU path: %s (bf16 rows: %s)\n", mapet::cpu::cpu_path_summary().c_str(),
              mapet::cpu::native_bf16() ? "native" : "emulated: rounded inputs, f32 GEMM");
  for (const auto& [family, g] : g_best) std::printf("best %-16s %8.1f GFLOP/s\n", family.c_str(), g);
  if (g_best.count("square/f32"))
    std::printf("f32 GEMM peak (best large square): %.1f GFLOP/s\n", g_best["square/f32"]);
  return 0;
}
