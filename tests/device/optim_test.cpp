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

TEST(DeviceOptim, GradNormForClipping) {
  auto norm = [](Device dev) {
    std::vector<nn::NamedParam> params = {{"a", Var(Tensor::zeros({300}, DType::f32, dev), true)},
                                          {"b", Var(Tensor::zeros({17, 3}, DType::f32, dev), true)}};
    params[0].var.set_grad(random_tensor({300}, 3).to(dev));
    params[1].var.set_grad(random_tensor({17, 3}, 4).to(dev));
    return optim::clip_grad_norm(params, 1e9);  // a norm only: scaling waits for the scale kernel (k4)
  };
  EXPECT_NEAR(norm(Device::cuda), norm(Device::cpu), 1e-5 * norm(Device::cpu));
}

}  // namespace
}  // namespace mapet
