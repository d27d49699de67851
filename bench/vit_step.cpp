// One ViT-Small/16 training step (224 px, batch 32, 1000 classes): forward,
// cross-entropy, backward, gradient clipping at 1.0 and an AdamW step — the
// step of apps/cmd_train_classifier.cpp on random images.
// Reports images/s and MFU = achieved model FLOP/s / the f32 GEMM peak measured
// at start-up (bench_common.h gives the FLOP formula).
//
//   build-bench/bench/vit_step            f32 and bf16 (--amp) steps
//   build-bench/bench/vit_step --amp      bf16 GEMMs only (--f32: f32 only)
//   build-bench/bench/vit_step --profile  forward / backward / clip / optimizer times
// Options: --batch N (32), --iters N (timed steps, 3), --model NAME, --img N.
// Threads: MAPET_THREADS (default one per core). Each run ends with one
// "RESULT {json}" line per precision, which bench/compare_vit.py reads.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "engine/allocator.h"
#include "engine/ops/cross_entropy.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"
#include "engine/rng.h"
#include "engine/threads.h"
#include "kernels/cpu/isa.h"
#include "models/registry.h"

namespace {

using namespace mapet;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model = "vit_standard_small_patch16_224";
  int64_t batch = 32, img = 224, iters = 3;
  bool run_f32 = true, run_amp = true, profile = false;
};

Options g_opt;
double g_peak_gflops = 0;

// CPU seconds of the whole process (all threads): steadier than wall time on a
// machine shared with other jobs (with OMP_WAIT_POLICY=PASSIVE, so that waiting
// threads sleep instead of spinning).
double process_cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Model, optimizer and one random batch, as a training run holds them.
struct Trainer {
  std::unique_ptr<models::VisionTransformer> model;
  std::unique_ptr<optim::AdamW> opt;
  std::vector<nn::NamedParam> params;
  Tensor images, labels;
  nn::Context ctx;
  double flops_per_step = 0;

  Trainer() {
    models::ModelOptions mo;
    mo.img_size = g_opt.img;
    model = models::create_vit(g_opt.model, mo);
    model->init_weights(0);
    model->train(true);
    params = model->named_parameters();
    opt = std::make_unique<optim::AdamW>(params, optim::AdamWConfig{});
    const models::VitConfig& c = model->config;
    Generator g(1);
    images = Tensor::empty({g_opt.batch, c.in_chans, c.img_size, c.img_size});
    g.normal_(images);
    std::vector<int64_t> l(g_opt.batch);
    for (int64_t& x : l) x = static_cast<int64_t>(g.randint(static_cast<uint64_t>(c.num_classes)));
    labels = Tensor::from_vector(l, {g_opt.batch});
    flops_per_step = 3.0 * g_opt.batch *
                     bench::vit_forward_flops(c.img_size, c.patch_size, c.in_chans, c.embed_dim, c.depth,
                                              c.mlp_ratio, c.num_classes);
  }

  // Seconds spent in each phase of one step.
  struct Phases {
    double forward = 0, backward = 0, clip = 0, optimizer = 0;
    double total() const { return forward + backward + clip + optimizer; }
  };

  Phases step() {
    Phases p;
    auto t = Clock::now();
    opt->zero_grad();
    Var loss = ops::cross_entropy(model->forward(Var(images), ctx), labels);
    p.forward = bench::seconds_since(t);
    t = Clock::now();
    autograd::backward(loss);
    p.backward = bench::seconds_since(t);
    t = Clock::now();
    optim::clip_grad_norm(params, 1.0);
    p.clip = bench::seconds_since(t);
    t = Clock::now();
    opt->step();
    p.optimizer = bench::seconds_since(t);
    return p;
  }
};

void print_result(const char* precision, double step_s, double cpu_s, double flops) {
  std::printf("RESULT {\"impl\": \"mapet\", \"precision\": \"%s\", \"model\": \"%s\", \"batch\": %lld, "
              "\"threads\": %d, \"step_s\": %.4f, \"cpu_s\": %.4f, \"images_per_s\": %.3f, \"gflops\": %.1f, "
              "\"peak_gflops\": %.1f, \"mfu\": %.4f}\n",
              precision, g_opt.model.c_str(), static_cast<long long>(g_opt.batch), num_threads(), step_s, cpu_s,
              g_opt.batch / step_s, flops / step_s / 1e9, g_peak_gflops, flops / step_s / 1e9 / g_peak_gflops);
  std::fflush(stdout);
}

struct Result {
  const char* precision;
  double step_s, cpu_s, flops;
};
std::vector<Result> g_results;  // printed after Google Benchmark's table

void bm_step(benchmark::State& state, bool amp) {
  cpu::set_gemm_precision(amp ? cpu::GemmPrecision::bf16 : cpu::GemmPrecision::f32);
  Trainer tr;
  tr.step();  // warm-up: primitive creation, allocator fill, first touch
  std::vector<double> times;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) times.push_back(tr.step().total());
  const double cpu_s = (process_cpu_seconds() - cpu0) / static_cast<double>(times.size());
  // Plain counters from the median step (a rate counter would use the mean).
  const double flops = tr.flops_per_step, step_s = median(times);
  state.counters["images/s"] = g_opt.batch / step_s;
  state.counters["GFLOP/s"] = flops / step_s / 1e9;
  state.counters["MFU"] = flops / step_s / 1e9 / g_peak_gflops;
  state.counters["CPU s/step"] = cpu_s;
  g_results.push_back({amp ? "bf16" : "f32", step_s, cpu_s, flops});
  cpu::set_gemm_precision(cpu::GemmPrecision::f32);
}

long minor_page_faults() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// --profile: where a step's time goes, phase by phase (median over iters), and
// how much fresh memory a step still touches once the caches are warm (each
// 4 KiB page fault costs the kernel a page clear).
void profile(bool amp) {
  cpu::set_gemm_precision(amp ? cpu::GemmPrecision::bf16 : cpu::GemmPrecision::f32);
  Trainer tr;
  tr.step();
  std::vector<double> f, b, c, o, t;
  const long faults0 = minor_page_faults();
  const double cpu0 = process_cpu_seconds();
  const size_t fresh0 = host_allocator_stats().fresh_allocations;
  for (int64_t i = 0; i < g_opt.iters; ++i) {
    Trainer::Phases p = tr.step();
    f.push_back(p.forward), b.push_back(p.backward), c.push_back(p.clip), o.push_back(p.optimizer);
    t.push_back(p.total());
  }
  const double cpu_s = (process_cpu_seconds() - cpu0) / g_opt.iters;
  const double faults = double(minor_page_faults() - faults0) / g_opt.iters;
  const double fresh = double(host_allocator_stats().fresh_allocations - fresh0) / g_opt.iters;
  const double total = median(t);
  std::printf("\n%s profile (median of %lld steps, batch %lld):\n", amp ? "bf16 (--amp)" : "f32",
              static_cast<long long>(g_opt.iters), static_cast<long long>(g_opt.batch));
  const char* names[] = {"forward + loss", "backward", "clip_grad_norm", "AdamW step"};
  const std::vector<double>* parts[] = {&f, &b, &c, &o};
  for (int i = 0; i < 4; ++i)
    std::printf("  %-16s %9.1f ms  %5.1f%%\n", names[i], 1e3 * median(*parts[i]), 100 * median(*parts[i]) / total);
  std::printf("  %-16s %9.1f ms\n", "step", 1e3 * total);
  std::printf("  per step after warm-up: %.0f minor page faults (%.0f MiB of fresh pages), %.0f allocations the "
              "tensor cache could not serve; peak tensor memory %.0f MiB\n",
              faults, faults * 4096 / 1048576.0, fresh, host_allocator_stats().peak_in_use / 1048576.0);
  print_result(amp ? "bf16" : "f32", total, cpu_s, tr.flops_per_step);
  cpu::set_gemm_precision(cpu::GemmPrecision::f32);
}

// Takes our flags out of argv, leaving Google Benchmark's.
void parse(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--amp") g_opt.run_f32 = false, g_opt.run_amp = true;
    else if (a == "--f32") g_opt.run_f32 = true, g_opt.run_amp = false;
    else if (a == "--profile") g_opt.profile = true;
    else if (a == "--batch") g_opt.batch = std::stoll(value());
    else if (a == "--iters") g_opt.iters = std::stoll(value());
    else if (a == "--img") g_opt.img = std::stoll(value());
    else if (a == "--model") g_opt.model = value();
    else argv[out++] = argv[i];
  }
  argc = out;
}

}  // namespace

int main(int argc, char** argv) {
  init_threads_from_env();
  parse(argc, argv);
  if (g_opt.run_amp && !cpu::native_bf16())
    std::printf("note: this CPU path has no native bf16; --amp here measures the emulated bf16 arithmetic (rounded inputs, f32 GEMMs)\n");
  g_peak_gflops = bench::measure_f32_peak_gflops();
  std::printf("%s, batch %lld, %lld px, %d threads; f32 GEMM peak %.1f GFLOP/s\n", g_opt.model.c_str(),
              static_cast<long long>(g_opt.batch), static_cast<long long>(g_opt.img), num_threads(), g_peak_gflops);
  std::fflush(stdout);

  if (g_opt.profile) {
    if (g_opt.run_f32) profile(false);
    if (g_opt.run_amp) profile(true);
    return 0;
  }
  if (g_opt.run_f32)
    benchmark::RegisterBenchmark("vit_step/f32", bm_step, false)->Iterations(g_opt.iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  if (g_opt.run_amp)
    benchmark::RegisterBenchmark("vit_step/bf16", bm_step, true)->Iterations(g_opt.iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const Result& r : g_results) print_result(r.precision, r.step_s, r.cpu_s, r.flops);
  return 0;
}
