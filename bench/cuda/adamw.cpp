// cuda::adamw_step_many (kernels/cuda/adamw.cu) against cpu::adamw_step on each tensor: one
// optimizer step over every parameter of the model in one launch.
#include "kernels/cuda/adamw.cuh"

#include <cmath>

#include "bench/cuda/params.h"
#include "kernels/cpu/adamw.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(adamw) {
  const std::vector<int64_t> sizes = cuda_bench::vit_parameter_sizes(b.shape());
  const float b1 = 0.9f, b2 = 0.999f;
  const int t = 10;
  twin::Case c;
  std::vector<cuda::AdamWTensor> tensors;
  std::vector<std::vector<float>> want_p, want_m, want_v;
  double n = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t size = sizes[i];
    std::vector<float> p = b.randn(size, 0.02f), g = b.randn(size, 1e-3f), m = b.randn(size, 1e-4f),
                       v = b.randn(size, 1e-4f);
    for (float& x : v) x = x * x;
    const float wd = size > b.shape().D ? 0.05f : 0.0f;  // no decay on norms, biases, tokens
    const common::AdamWStep st{1.5e-3f, b1, b2, 1e-8f, wd, 1.0f - std::pow(b1, t), std::sqrt(1.0f - std::pow(b2, t))};
    tensors.push_back({st, c.inout(p), c.input(g), c.inout(m), c.inout(v), size});
    cpu::adamw_step(st, p.data(), g.data(), m.data(), v.data(), size);
    want_p.push_back(std::move(p));
    want_m.push_back(std::move(m));
    want_v.push_back(std::move(v));
    n += size;
  }
  auto step = [&] { cuda::adamw_step_many(tensors.data(), tensors.size()); };
  b.validate(c, step);
  // Same formula per element; the CPU's AVX2 build may fuse a multiply-add that simt's does not.
  std::vector<float> got_p, got_m, got_v, all_p, all_m, all_v;
  for (size_t i = 0; i < tensors.size(); ++i) {
    for (auto [got, all, dev, want] : {std::tuple{&got_p, &all_p, tensors[i].param, &want_p[i]},
                                       std::tuple{&got_m, &all_m, tensors[i].m, &want_m[i]},
                                       std::tuple{&got_v, &all_v, tensors[i].v, &want_v[i]}}) {
      const std::vector<float> r = c.read(dev);
      got->insert(got->end(), r.begin(), r.end());
      all->insert(all->end(), want->begin(), want->end());
    }
  }
  const std::string what = " (" + std::to_string(sizes.size()) + " tensors, " + std::to_string(int64_t(n)) + " values)";
  b.expect_close(got_p, all_p, {2e-6, 1e-7}, "param" + what);
  b.expect_close(got_m, all_m, {2e-6, 1e-7}, "m");
  b.expect_close(got_v, all_v, {2e-6, 1e-7}, "v");
  // Bytes: reads param, grad, m, v and writes param, m, v (the table of tensors, a few kB, not counted).
  b.time("adamw_step_many", step, {.bytes = 4.0 * 7 * n});
}
