// The optimiser and gradient clipping on Device::cuda against the CPU.
#include <gtest/gtest.h>

#include "engine/nn/module.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

using test::random_tensor;

// Three AdamW steps on a matrix (weight decay) and a vector (none), with fresh gradients each step.
std::vector<std::vector<float>> three_steps(Device dev) {
  std::vector<nn::NamedParam> params = {{"w", Var(random_tensor({5, 7}, 1).to(dev), true)},
                                        {"b", Var(random_tensor({7}, 2).to(dev), true)}};
  optim::AdamW opt(params, optim::AdamWConfig{});
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < params.size(); ++i)
      params[i].var.set_grad(random_tensor(params[i].var.shape(), 10 + step * 2 + uint32_t(i)).to(dev));
    opt.step(1e-2f);
  }
  return {params[0].var.value().to_vector(), params[1].var.value().to_vector()};
}

TEST(DeviceOptim, AdamWThreeSteps) {
  const auto cpu = three_steps(Device::cpu), gpu = three_steps(Device::cuda);
  EXPECT_TRUE(test::close(gpu[0], cpu[0], 2e-6, "w"));
  EXPECT_TRUE(test::close(gpu[1], cpu[1], 2e-6, "b"));
  EXPECT_FALSE(test::close(cpu[0], random_tensor({5, 7}, 1).to_vector(), 1e-4, "moved"));  // the steps did something
}

TEST(DeviceOptim, GradNormClipping) {
  // The global norm (sum_squares in double) and the scaled gradients (the scale kernel) on both devices.
  struct Clipped {
    double norm;
    std::vector<std::vector<float>> grads;
  };
  auto clip = [](Device dev, double max_norm) {
    std::vector<nn::NamedParam> params = {{"a", Var(Tensor::zeros({300}, DType::f32, dev), true)},
                                          {"b", Var(Tensor::zeros({17, 3}, DType::f32, dev), true)}};
    params[0].var.set_grad(random_tensor({300}, 3).to(dev));
    params[1].var.set_grad(random_tensor({17, 3}, 4).to(dev));
    Clipped c{optim::clip_grad_norm(params, max_norm), {}};
    for (const nn::NamedParam& p : params) {
      EXPECT_EQ(p.var.grad().device(), dev);
      c.grads.push_back(p.var.grad().to_vector());
    }
    return c;
  };
  for (double max_norm : {1e9, 2.0}) {  // a norm only; then a clip to norm 2
    const Clipped cpu = clip(Device::cpu, max_norm), gpu = clip(Device::cuda, max_norm);
    EXPECT_NEAR(gpu.norm, cpu.norm, 1e-12 * cpu.norm);  // the same tiles summed in the same order
    for (size_t i = 0; i < cpu.grads.size(); ++i) EXPECT_TRUE(test::close(gpu.grads[i], cpu.grads[i], 0, "clipped"));
  }
  EXPECT_GT(clip(Device::cpu, 1e9).norm, 2.0);  // so the second round did scale
}

TEST(DeviceOptim, StateFollowsAModelMovedAfterTheOptimizer) {
  // An app may build the optimizer first and call model.to(dev) afterwards (Module::to keeps the Vars).
  struct Net : nn::Module {
    Var w;
    Net() { w = register_parameter("w", random_tensor({4, 3}, 5)); }
  };
  auto run = [](bool move) {
    Net net;
    optim::AdamW opt(net.named_parameters(), optim::AdamWConfig{});
    if (move) net.to(Device::cuda);
    for (int step = 0; step < 2; ++step) {
      net.w.set_grad(random_tensor({4, 3}, 6 + uint32_t(step)).to(net.device()));
      opt.step(1e-2f);
    }
    EXPECT_EQ(opt.slots()[0].m.device(), net.device());
    return net.w.value().to_vector();
  };
  EXPECT_TRUE(test::close(run(true), run(false), 2e-6, "w"));
}

}  // namespace
}  // namespace mapet
