// Backend equivalence for tests/device (in the manner of ggml's
// test-backend-ops): an op run on CPU tensors and on their Device::cuda copies
// (every kernel under kernels/simt), forward and backward through autograd,
// with outputs and input gradients compared within a stated tolerance.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace mapet::test {

inline Tensor random_tensor(const Shape& shape, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape);
}

// |got - want| <= tol * max(1, max |want|) everywhere: the error relative to
// the tensor's scale (a gradient's elements can be pure cancellation).
inline ::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want, double tol,
                                        const std::string& what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": " << got.size() << " values, the CPU has " << want.size();
  double scale = 1.0;
  for (float w : want) scale = std::max(scale, std::fabs(double(w)));
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    if (!(err <= tol * scale)) {  // NaN fails
      if (bad++ == 0) first = i;
      worst = std::isnan(err) ? INFINITY : std::max(worst, err);
    }
  }
  if (!bad) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size() << " values off the CPU; first at "
                                       << first << " (" << got[first] << " vs " << want[first] << "), worst error "
                                       << worst << ", allowed " << tol * scale;
}

// What one run of an op gives: its output and the gradient of every input.
struct OpRun {
  std::vector<float> out;
  std::vector<std::vector<float>> grads;
  Device out_device = Device::cpu;
};

// inputs: CPU tensors (copied to `dev`, each a leaf that wants a gradient);
// op: builds the output from them; upstream: d(loss)/d(output) (copied to dev).
// With upstream undefined only the forward runs.
inline OpRun run_op(Device dev, const std::vector<Tensor>& inputs, const std::function<Var(std::vector<Var>&)>& op,
                    const Tensor& upstream = Tensor()) {
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.to(dev), upstream.defined());
  Var out = op(vars);
  OpRun r;
  r.out = out.value().to_vector();
  r.out_device = out.value().device();
  if (upstream.defined()) {
    // A scalar whose backward hands `upstream` to the output: backward() then
    // runs the op's own backward with exactly that gradient.
    Var loss = autograd::make_output(Tensor::full({1}, 0.0f), {&out});
    const Tensor g = upstream.to(dev);
    autograd::record(loss, [out, g](const Tensor&) { autograd::accumulate(out, g); });
    autograd::backward(loss);
    for (const Var& v : vars) {
      EXPECT_TRUE(!v.grad().defined() || v.grad().device() == dev) << "a gradient left the device";
      r.grads.push_back(v.grad().defined() ? v.grad().to_vector() : std::vector<float>());
    }
  }
  return r;
}

// The op on both devices; every output and gradient within tol (see close()).
inline void expect_equivalent(const std::string& what, const std::vector<Tensor>& inputs,
                              const std::function<Var(std::vector<Var>&)>& op, const Tensor& upstream, double tol) {
  const OpRun cpu = run_op(Device::cpu, inputs, op, upstream);
  const OpRun gpu = run_op(Device::cuda, inputs, op, upstream);
  EXPECT_EQ(gpu.out_device, Device::cuda) << what << ": the output is not on the device";
  EXPECT_TRUE(close(gpu.out, cpu.out, tol, what + " forward"));
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    EXPECT_FALSE(cpu.grads[i].empty() && !gpu.grads[i].empty()) << what << ": input " << i;
    EXPECT_TRUE(close(gpu.grads[i], cpu.grads[i], tol, what + " gradient of input " + std::to_string(i)));
  }
}

}  // namespace mapet::test
