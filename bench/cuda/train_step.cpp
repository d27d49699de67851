// One MaPeT pre-training step on Device::cuda (bench/mapet_step's step: both
// streams, token cross-entropy, backward, clip 3.0, AdamW) at batch 64 and
// 256 of MaPeT-Small/16, f32 and bf16 (--amp): images/s and MFU against the
// GPU's dense bf16 tensor-core peak, timed with CUDA events around whole steps
// (median of --iters after 2 warm-up steps).
//
//   cuda_train_step        a GPU: the nvcc kernels, cuBLASLt (bench/cuda/run.sh runs it)
//   cuda_train_step_simt   no GPU: the same step under kernels/simt at a tiny size
//                          (img 32, patch 8, dim 64, depth 2, batch 4), checked
//                          against the CPU's loss; it says no GPU timing was taken.
//
//   cuda_train_step [--batch 64,256] [--iters 10] [--f32 | --amp] [--objective mapet|pet|mim]
//                   [--model mapet_small_patch16_224] [--peak-tflops 989]
// The PyTorch peer on the same GPU: bench/pretrain/torch_mapet_pretrain.py --device cuda.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench/mapet_workload.h"
#include "engine/cuda/runtime.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"
#include "engine/precision.h"
#include "engine/threads.h"
#include "kernels/cuda/gemm.cuh"
#include "models/mapet.h"

namespace {

using namespace mapet;

#if defined(MAPET_TRAIN_STEP_SIMT)
constexpr bool kGpu = false;
#else
constexpr bool kGpu = true;
#endif

struct Options {
  std::string model = "mapet_small_patch16_224", objective = "mapet";
  std::vector<int64_t> batches = kGpu ? std::vector<int64_t>{64, 256} : std::vector<int64_t>{4};
  int iters = kGpu ? 10 : 1;
  bool f32 = true, amp = true;
  double peak_tflops = 0;  // 0: from the device's name
} g_opt;

// H100 / H200 SXM: 989.4 dense bf16 TFLOP/s (NVIDIA's data sheets; A100: 312).
double bf16_peak_tflops(const std::string& device) {
  if (g_opt.peak_tflops > 0) return g_opt.peak_tflops;
  if (device.find("H100") != std::string::npos || device.find("H200") != std::string::npos) return 989.4;
  if (device.find("A100") != std::string::npos) return 312.0;
  return 0;
}

models::MapetConfig config() {
  models::MapetConfig c = models::mapet_config(g_opt.model);
  c.objective = models::parse_objective(g_opt.objective);
  if (!kGpu) {  // a step of seconds under simt
    c.vit.img_size = 32, c.vit.patch_size = 8, c.vit.embed_dim = 64, c.vit.depth = 2, c.vit.num_heads = 2;
    c.vocab_size = 64, c.least_number = 5, c.mim_mask_count = 6;
  }
  return c;
}

models::MapetBatch to_device(const models::MapetBatch& b, Device dev) {
  models::MapetBatch d = b;
  d.images = b.images.to(dev), d.tokens = b.tokens.to(dev), d.perm = b.perm.to(dev), d.mask = b.mask.to(dev);
  return d;
}

struct Step {
  std::unique_ptr<models::MapetModel> model;
  std::unique_ptr<optim::AdamW> opt;
  models::MapetBatch batch;
  Generator drop_rng{7};
  nn::Context ctx{&drop_rng};

  Step(const models::MapetConfig& cfg, const models::MapetBatch& host, Device dev) {
    model = std::make_unique<models::MapetModel>(cfg);
    model->init_weights(0);
    model->to(dev);
    opt = std::make_unique<optim::AdamW>(model->named_parameters(), optim::AdamWConfig{});
    batch = to_device(host, dev);
  }
  float run() {
    opt->zero_grad();
    models::MapetOutput o = model->forward(batch, ctx);
    autograd::backward(o.loss);
    optim::clip_grad_norm(model->named_parameters(), 3.0);
    opt->step();
    return o.loss.value().to(Device::cpu).item();
  }
};

void run(bool amp, int64_t B, const std::string& device) {
  configure_amp(amp);
  cuda::set_gemm_uses_bf16(amp);
  const models::MapetConfig cfg = config();
  const models::MapetBatch host = bench::random_mapet_batch(cfg, B);
  Step s(cfg, host, Device::cuda);
  const char* precision = amp ? "bf16" : "f32";
  if (!kGpu) {
    // Validation: the first step's loss against the CPU's (same weights, batch and drop-path draws).
    Step cpu(cfg, host, Device::cpu);
    const float want = cpu.run(), got = s.run();
    const double rel = std::fabs(double(got) - want) / std::max(1e-6, std::fabs(double(want)));
    std::printf("%-6s batch %lld: loss %.6f on cuda-sim, %.6f on the CPU (relative difference %.1e)%s\n", precision,
                (long long)B, got, want, rel, rel < (amp ? 2e-2 : 1e-4) ? "" : "  << MISMATCH");
    std::printf("        no GPU timing taken (kernels/simt runs the CUDA kernels on the CPU)\n");
    if (!(rel < (amp ? 2e-2 : 1e-4))) std::exit(1);
    return;
  }
  s.run(), s.run();  // warm-up: allocator, cuBLASLt heuristics
  std::vector<double> ms;
  for (int i = 0; i < g_opt.iters; ++i) {
    device::Event t0, t1;
    t0.record(device::current_stream());
    s.run();
    t1.record(device::current_stream());
    t1.synchronize();
    ms.push_back(t1.elapsed_ms_since(t0));
  }
  std::sort(ms.begin(), ms.end());
  const double step_s = ms[ms.size() / 2] / 1e3, flops = 3.0 * B * bench::mapet_forward_flops(cfg);
  const double peak = bf16_peak_tflops(device);
  std::printf("%-6s batch %4lld: %8.2f ms/step (min %.2f, max %.2f)  %9.1f images/s  %7.1f TFLOP/s  MFU %s\n",
              precision, (long long)B, step_s * 1e3, ms.front(), ms.back(), B / step_s, flops / step_s / 1e12,
              peak > 0 ? (std::to_string(flops / step_s / 1e12 / peak * 100).substr(0, 5) + "% of " +
                          std::to_string(static_cast<int>(peak)) + " bf16 TFLOP/s").c_str()
                       : "(unknown GPU: pass --peak-tflops)");
  std::printf("RESULT {\"impl\": \"mapet-cuda\", \"model\": \"%s\", \"objective\": \"%s\", \"precision\": \"%s\", "
              "\"batch\": %lld, \"step_ms\": %.3f, \"images_per_s\": %.1f, \"tflops\": %.2f, \"peak_tflops\": %.1f}\n",
              g_opt.model.c_str(), g_opt.objective.c_str(), precision, (long long)B, step_s * 1e3, B / step_s,
              flops / step_s / 1e12, peak);
}

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) v.push_back(std::stoll(item));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  init_threads_from_env();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--f32") g_opt.amp = false;
    else if (a == "--amp") g_opt.f32 = false;
    else if (a == "--batch") g_opt.batches = parse_list(next());
    else if (a == "--iters") g_opt.iters = std::stoi(next());
    else if (a == "--model") g_opt.model = next();
    else if (a == "--objective") g_opt.objective = next();
    else if (a == "--peak-tflops") g_opt.peak_tflops = std::stod(next());
    else {
      std::fprintf(stderr, "cuda_train_step: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  try {
    std::string device = "cuda-sim (kernels/simt on the CPU)";
    if (kGpu) {
      if (device::device_count() == 0) {
        std::printf("no GPU: cuda_train_step not run (build/bench/cuda/cuda_train_step_simt runs the step under simt)\n");
        return 77;
      }
      device::select(0, "cuda_train_step");
      device = device::describe();
    }
    std::printf("MaPeT train step on %s: %s, objective %s%s\n", device.c_str(), g_opt.model.c_str(),
                g_opt.objective.c_str(), kGpu ? "" : ", shrunk to img 32 / patch 8 / dim 64 / depth 2");
    for (int64_t B : g_opt.batches) {
      if (g_opt.f32) run(false, B, device);
      if (g_opt.amp) run(true, B, device);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_train_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
