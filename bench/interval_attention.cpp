// MaPeT two-stream attention, forward + backward, at pre-training shape
// (ViT-Small: B = 32, 6 heads, head dim 64; T = 197, L = 50, so M = 147,
// 491 query rows [content real | content mask | query], 344 keys):
//   fused      ops::interval_attention (kernels/cpu/interval_attention.cpp)
//   reference  ops::interval_attention_reference (dense mask + plain attention)
// The PyTorch peer is bench/torch_two_stream_attention.py; figures in bench/RESULTS.md.
//
//   build-attn/bench/interval_attention --benchmark_filter=fused/fwd_bwd
//   build-attn/bench/interval_attention --benchmark_filter=reference/fwd_bwd
// Run one variant per process to read its peak RSS (max_rss_MiB is the
// process's). work_MiB is the engine allocator's peak bytes in use during a
// step minus what was in use before it (the inputs): the step's own memory.
// process_cpu_ms: CPU time of all threads per step (the machine is shared:
// with one thread it is the figure that other jobs disturb least).
// useful_GFLOPs: 2 d flops per visible (row, key) pair for each of the 7 tile
// products (Q K^T and P V forward; Q K^T, dO V^T, P^T dO, dS K, dS^T Q backward).
// Threads: MAPET_THREADS (default one per core).
#include "engine/ops/interval_attention.h"

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "engine/allocator.h"
#include "engine/rng.h"
#include "engine/threads.h"
#include "kernels/cpu/isa.h"

namespace {

using namespace mapet;

constexpr int64_t kB = 32, kH = 6, kD = 64, kT = 197, kL = 50;

Tensor randn(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  Generator g(seed);
  g.normal_(t, 0.0f, 1.0f);
  return t;
}

double max_rss_mib() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // KiB on Linux
}

// User + system CPU seconds of the whole process (all threads).
double process_cpu_s() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Visible (row, key) pairs of one head.
int64_t visible_pairs(const ops::IntervalMask& m, int64_t Tk) {
  int64_t n = 0;
  for (size_t i = 0; i < m.real_end.size(); ++i)
    n += std::clamp<int64_t>(m.real_end[i], 0, m.num_real) +
         std::clamp<int64_t>(Tk - m.num_real - m.mask_start[i], 0, Tk - m.num_real);
  return n;
}

using AttentionFn = Var (*)(const Var&, const Var&, const Var&, const ops::IntervalMask&, float);

void run(benchmark::State& state, AttentionFn fn, bool backward) {
  const ops::IntervalMask m = ops::mapet_interval_mask(common::Objective::mapet, kT, kL);
  const int64_t Tq = static_cast<int64_t>(m.real_end.size()),
                Tk = common::mapet_key_rows(common::Objective::mapet, kT, kL);
  Tensor q = randn({kB, kH, Tq, kD}, 1), k = randn({kB, kH, Tk, kD}, 2), v = randn({kB, kH, Tk, kD}, 3),
         dout = randn({kB, kH, Tq, kD}, 4);
  auto step = [&] {
    Var qv(q, backward), kv(k, backward), vv(v, backward);
    Var out = fn(qv, kv, vv, m, -1.0f);
    if (backward) {  // backward of sum(out * dout): out's gradient is dout
      Var loss = autograd::make_output(Tensor::full({1}, 0.0f), {&out});
      autograd::record(loss, [out, dout](const Tensor&) { autograd::accumulate(out, dout); });
      autograd::backward(loss);
    }
    benchmark::DoNotOptimize(out.value().data<float>());
  };
  step();  // warm-up: caches, scratch buffers, oneDNN primitives
  const size_t in_use = host_allocator_stats().bytes_in_use;
  host_allocator_reset_peak();
  const double cpu0 = process_cpu_s();
  for (auto _ : state) step();
  state.counters["process_cpu_ms"] = 1e3 * (process_cpu_s() - cpu0) / static_cast<double>(state.iterations());
  const double work = static_cast<double>(host_allocator_stats().peak_in_use - in_use);
  const double flops = 2.0 * kD * static_cast<double>(visible_pairs(m, Tk)) * kB * kH * (backward ? 7 : 2);
  state.counters["work_MiB"] = work / (1 << 20);
  state.counters["max_rss_MiB"] = max_rss_mib();
  state.counters["useful_GFLOPs"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = num_threads();
  state.SetLabel(cpu::cpu_path_summary());  // the instruction-set level the kernels run at
}

void fused_fwd_bwd(benchmark::State& s) { run(s, &ops::interval_attention, true); }
void reference_fwd_bwd(benchmark::State& s) { run(s, &ops::interval_attention_reference, true); }
void fused_fwd(benchmark::State& s) { run(s, &ops::interval_attention, false); }
void reference_fwd(benchmark::State& s) { run(s, &ops::interval_attention_reference, false); }

BENCHMARK(fused_fwd_bwd)->Name("fused/fwd_bwd")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(reference_fwd_bwd)->Name("reference/fwd_bwd")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(fused_fwd)->Name("fused/fwd")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(reference_fwd)->Name("reference/fwd")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  mapet::init_threads_from_env();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
