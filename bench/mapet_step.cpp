// One MaPeT pre-training step (mapet_small_patch16_224 by default, 224 px,
// batch 32, L = 50, 8192 visual tokens): forward of both streams, cross-entropy
// on the predicted tokens, backward, clip 3.0, AdamW — the step of
// apps/cmd_pretrain.cpp on random images, tokens and permutations.
// Reports images/s and MFU against the f32 GEMM peak measured at start-up.
//
//   build/bench/mapet_step [--amp | --f32] [--objective mapet|pet|mim] [--batch N] [--iters N]
// Threads: MAPET_THREADS. Ends with one "RESULT {json}" line per precision.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/mapet_workload.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"
#include "engine/threads.h"
#include "models/mapet.h"
#include "models/permutation.h"

namespace {

using namespace mapet;

struct Options {
  std::string model = "mapet_small_patch16_224", objective = "mapet";
  int64_t batch = 32, iters = 3;
  bool run_f32 = true, run_amp = true;
} g_opt;
double g_peak_gflops = 0;

struct Step {
  models::MapetConfig cfg;
  std::unique_ptr<models::MapetModel> model;
  std::unique_ptr<optim::AdamW> opt;
  models::MapetBatch batch;
  Generator drop_rng{7};
  nn::Context ctx{&drop_rng};

  Step() {
    cfg = models::mapet_config(g_opt.model);
    cfg.objective = models::parse_objective(g_opt.objective);
    model = std::make_unique<models::MapetModel>(cfg);
    model->init_weights(0);
    opt = std::make_unique<optim::AdamW>(model->named_parameters(), optim::AdamWConfig{});
    batch = bench::random_mapet_batch(cfg, g_opt.batch);
  }

  void run() {
    opt->zero_grad();
    models::MapetOutput o = model->forward(batch, ctx);
    autograd::backward(o.loss);
    optim::clip_grad_norm(model->named_parameters(), 3.0);
    opt->step();
  }
};

void bm_step(benchmark::State& state, bool amp) {
  cpu::set_gemm_precision(amp ? cpu::GemmPrecision::bf16 : cpu::GemmPrecision::f32);
  Step s;
  s.run();  // warm-up: primitives, allocator, first touch
  std::vector<double> times;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    s.run();
    times.push_back(bench::seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  const double step_s = times[times.size() / 2], flops = 3.0 * g_opt.batch * bench::mapet_forward_flops(s.cfg);
  state.counters["images/s"] = g_opt.batch / step_s;
  state.counters["MFU"] = flops / step_s / 1e9 / g_peak_gflops;
  std::printf("RESULT {\"impl\": \"mapet\", \"model\": \"%s\", \"objective\": \"%s\", \"precision\": \"%s\", "
              "\"batch\": %lld, \"threads\": %d, \"step_s\": %.4f, \"images_per_s\": %.3f, \"gflops\": %.1f, "
              "\"peak_gflops\": %.1f, \"mfu\": %.4f}\n",
              g_opt.model.c_str(), g_opt.objective.c_str(), amp ? "bf16" : "f32", (long long)g_opt.batch,
              num_threads(), step_s, g_opt.batch / step_s, flops / step_s / 1e9, g_peak_gflops,
              flops / step_s / 1e9 / g_peak_gflops);
  cpu::set_gemm_precision(cpu::GemmPrecision::f32);
}

}  // namespace

int main(int argc, char** argv) {
  init_threads_from_env();
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--amp") g_opt.run_f32 = false;
    else if (a == "--f32") g_opt.run_amp = false;
    else if (a == "--batch" && i + 1 < argc) g_opt.batch = std::stoll(argv[++i]);
    else if (a == "--iters" && i + 1 < argc) g_opt.iters = std::stoll(argv[++i]);
    else if (a == "--model" && i + 1 < argc) g_opt.model = argv[++i];
    else if (a == "--objective" && i + 1 < argc) g_opt.objective = argv[++i];
    else argv[out++] = argv[i];
  }
  argc = out;
  g_peak_gflops = bench::measure_f32_peak_gflops();
  std::printf("%s (%s), batch %lld, %d threads; f32 GEMM peak %.1f GFLOP/s\n", g_opt.model.c_str(),
              g_opt.objective.c_str(), (long long)g_opt.batch, num_threads(), g_peak_gflops);
  if (g_opt.run_f32)
    benchmark::RegisterBenchmark("mapet_step/f32", bm_step, false)->Iterations(g_opt.iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  if (g_opt.run_amp)
    benchmark::RegisterBenchmark("mapet_step/bf16", bm_step, true)->Iterations(g_opt.iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
