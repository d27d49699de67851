// cuda::adamw_step_many (and adamw_step) against cpu::adamw_step on each tensor.
#include "kernels/cuda/adamw.cuh"

#include <cmath>

#include "kernels/cpu/adamw.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n, float std = 1.0f) { return test::randn({n}, test::fresh_seed(), std).to_vector(); }

common::AdamWStep step_at(int t, float lr, float wd) {
  const float b1 = 0.9f, b2 = 0.999f;
  return {lr, b1, b2, 1e-8f, wd, 1.0f - std::pow(b1, t), std::sqrt(1.0f - std::pow(b2, t))};
}

// Sizes around the kernel's 4096-element tiles, an empty tensor, and one
// whose pointers are not 16-byte aligned (offset 1: the scalar path); each
// tensor with its own lr and weight decay, as a model's parameter groups.
TEST(AdamWTwin, ManyTensorsInOneLaunchMatchCpu) {
  struct Spec {
    int64_t n, offset;
    float lr, wd;
  };
  const std::vector<Spec> specs = {{1, 0, 1e-3f, 0.05f}, {5, 0, 2e-3f, 0.0f},    {4097, 0, 1e-3f, 0.05f},
                                   {0, 0, 1e-3f, 0.05f}, {333, 1, 5e-4f, 0.05f}, {12290, 0, 1e-2f, 0.1f}};
  test::twin::Case c;
  std::vector<cuda::AdamWTensor> tensors;
  std::vector<std::vector<float>> want_p, want_m, want_v;
  for (const Spec& sp : specs) {
    const int64_t len = sp.n + sp.offset;
    std::vector<float> p = randn(len), g = randn(len), m = randn(len, 0.1f), v = randn(len, 0.01f);
    for (float& x : v) x = x * x;
    const common::AdamWStep st = step_at(3, sp.lr, sp.wd);
    tensors.push_back({st, c.inout(p) + sp.offset, c.input(g) + sp.offset, c.inout(m) + sp.offset,
                       c.inout(v) + sp.offset, sp.n});
    cpu::adamw_step(st, p.data() + sp.offset, g.data() + sp.offset, m.data() + sp.offset, v.data() + sp.offset, sp.n);
    want_p.push_back(p);
    want_m.push_back(m);
    want_v.push_back(v);
  }
  c.run([&] { cuda::adamw_step_many(tensors.data(), tensors.size()); });
  // Same formula per element; the CPU's AVX2 build may fuse a multiply-add that simt's does not.
  const test::twin::Tolerance tol{2e-6, 1e-7};
  for (size_t k = 0; k < specs.size(); ++k) {
    const int64_t off = specs[k].offset;
    auto got = [&](float* dev) { return c.read(dev - off); };
    const std::string name = "tensor " + std::to_string(k);
    EXPECT_TRUE(test::twin::close(got(tensors[k].param), want_p[k], tol, name + " param"));
    EXPECT_TRUE(test::twin::close(got(tensors[k].m), want_m[k], tol, name + " m"));
    EXPECT_TRUE(test::twin::close(got(tensors[k].v), want_v[k], tol, name + " v"));
  }
}

TEST(AdamWTwin, OneTensorMatchesCpu) {
  const int64_t n = 1031;
  std::vector<float> p = randn(n), g = randn(n), m = randn(n, 0.1f), v = randn(n, 0.01f);
  for (float& x : v) x = x * x;
  const common::AdamWStep st = step_at(1, 1e-3f, 0.05f);
  test::twin::Case c;
  float *d_p = c.inout(p), *d_m = c.inout(m), *d_v = c.inout(v);
  const float* d_g = c.input(g);
  c.run([&] { cuda::adamw_step(st, d_p, d_g, d_m, d_v, n); });
  cpu::adamw_step(st, p.data(), g.data(), m.data(), v.data(), n);
  EXPECT_TRUE(test::twin::close(c.read(d_p), p, {2e-6, 1e-7}, "param"));
  EXPECT_TRUE(test::twin::close(c.read(d_m), m, {2e-6, 1e-7}, "m"));
  EXPECT_TRUE(test::twin::close(c.read(d_v), v, {2e-6, 1e-7}, "v"));
}

}  // namespace
}  // namespace mapet
