// The shared part of bench/cuda (bench.h): shapes, random inputs, checks, and
// the timing with CUDA events on a GPU.
#include "bench/cuda/bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#if defined(MAPET_TWIN_GPU)
#include <cuda_runtime.h>

#include "kernels/cuda/device.cuh"
#endif

namespace mapet::cuda_bench {

Shape mapet_small() {
  return {"MaPeT-Small/16 (B=64, 224 px)", 64, 224, 16, 197, 50, 384, 6, 1536, 8192, 8192, 768, 12};
}
Shape simt_small() {
  return {"simt stand-in (B=2, 64 px)", 2, 64, 16, 17, 5, 384, 6, 1536, 8192, 2048, 768, 2};
}

std::vector<Entry>& registry() {
  static std::vector<Entry> entries;
  return entries;
}
Registration::Registration(const char* name, BenchFn fn) { registry().push_back({name, fn}); }

Bench::Bench(const Shape& shape, bool gpu, int iters, uint64_t seed)
    : shape_(shape), gpu_(gpu), iters_(iters), rng_(seed) {}

std::vector<float> Bench::randn(size_t n, float sd, float mean) {
  std::mt19937_64 g(rng_());
  std::normal_distribution<float> dist(mean, sd);
  std::vector<float> v(n);
  for (float& x : v) x = dist(g);
  return v;
}

std::vector<float> Bench::uniform(size_t n, float lo, float hi) {
  std::mt19937_64 g(rng_());
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(g);
  return v;
}

void Bench::validate(twin::Case& c, const std::function<void()>& launch) { c.run(launch); }

void Bench::report(bool ok, const std::string& what, double worst_abs, double worst_of_max,
                   const std::string& detail) {
  if (!ok) ++failures_;
  std::printf("  %-4s %-50s worst error %.1e (%.1e of the largest value)\n", ok ? "ok" : "FAIL", what.c_str(),
              worst_abs, worst_of_max);
  if (!detail.empty()) std::printf("       %s\n", detail.c_str());
}

void Bench::expect_close_to_max(const std::vector<float>& got, const std::vector<float>& want, double rel,
                                const std::string& what) {
  double scale = 0, worst = 0, worst_abs = 0;
  for (float w : want) scale = std::max(scale, std::fabs(double(w)));
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < want.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i]));
    if (!(e <= worst_abs)) worst_abs = std::isnan(e) ? INFINITY : e;
  }
  worst = scale > 0 ? worst_abs / scale : worst_abs;
  ok = ok && worst <= rel;
  char detail[160] = "";
  if (!ok) std::snprintf(detail, sizeof detail, "tolerance %.0e of the largest value %.3g", rel, scale);
  report(ok, what, worst_abs, worst, detail);
}

void Bench::expect(bool ok, const std::string& what) { report(ok, what, 0, 0, ""); }

namespace {

#if defined(MAPET_TWIN_GPU)
// Peaks by device name (NVIDIA's data sheets, SXM parts): bf16 dense tensor
// cores 989 TFLOP/s, f32 on the CUDA cores 67 TFLOP/s (H100 and H200 alike);
// HBM 3.35 TB/s (H100 SXM, HBM3) or 4.8 TB/s (H200, HBM3e). Other devices: no
// fraction printed. (An H100 PCIe or NVL has lower peaks than these.)
struct Peaks {
  double bf16_tensor = 0, f32 = 0, hbm = 0;
};
Peaks peaks_of(const std::string& name) {
  if (name.find("H200") != std::string::npos) return {989e12, 67e12, 4.8e12};
  if (name.find("H100") != std::string::npos) return {989e12, 67e12, 3.35e12};
  return {};
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
#endif

std::string human_bytes(double b) {
  char s[32];
  if (b >= 1e9) std::snprintf(s, sizeof s, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(s, sizeof s, "%.1f MB", b / 1e6);
  else std::snprintf(s, sizeof s, "%.1f kB", b / 1e3);
  return s;
}

}  // namespace

void Bench::time(const std::string& what, const std::function<void()>& launch, Count count) {
  const std::string work = (count.flops > 0 ? std::to_string(static_cast<long long>(count.flops / 1e6)) + " MFLOP, " : "") +
                           human_bytes(count.bytes);
  if (!gpu_) {
    std::printf("  --   %-50s not timed (no GPU): %s per call\n", what.c_str(), work.c_str());
    return;
  }
#if defined(MAPET_TWIN_GPU)
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < 3; ++i) launch();  // warm-up: first-launch costs, caches, clocks
  check(cudaDeviceSynchronize(), "warm-up");
  std::vector<float> ms;
  for (int i = 0; i < iters_; ++i) {
    check(cudaEventRecord(start), "cudaEventRecord");
    launch();
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float t = 0;
    check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  const double sec = ms[ms.size() / 2] * 1e-3;
  const Peaks peak = peaks_of(cuda::device_name(0));
  char rate[160];
  if (count.flops > 0) {
    const double p = count.tensor_cores ? peak.bf16_tensor : peak.f32;
    const double tflops = count.flops / sec / 1e12;
    if (p > 0)
      std::snprintf(rate, sizeof rate, "%8.2f TFLOP/s  %5.1f%% of %s peak", tflops, 100 * count.flops / sec / p,
                    count.tensor_cores ? "bf16 tensor" : "f32");
    else std::snprintf(rate, sizeof rate, "%8.2f TFLOP/s", tflops);
  } else {
    const double gbs = count.bytes / sec / 1e9;
    if (peak.hbm > 0) std::snprintf(rate, sizeof rate, "%8.1f GB/s     %5.1f%% of HBM peak", gbs, 100 * count.bytes / sec / peak.hbm);
    else std::snprintf(rate, sizeof rate, "%8.1f GB/s", gbs);
  }
  std::printf("  time %-50s %9.3f ms  %s  (%s, median of %d)\n", what.c_str(), sec * 1e3, rate, work.c_str(), iters_);
#else
  (void)launch;
#endif
}

}  // namespace mapet::cuda_bench
