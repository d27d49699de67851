// A whole ViT block (engine/nn) on Device::cuda against the CPU: layer norms,
// the q/kv/proj and MLP linears on the own GEMM, bias+GELU, the fused interval
// attention, layer scale and drop path in the residuals.
#include <gtest/gtest.h>

#include "engine/nn/layers.h"
#include "engine/ops/reduce.h"
#include "engine/rng.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

nn::BlockConfig config() {
  nn::BlockConfig c;
  c.dim = 32;
  c.heads = 2;
  c.mlp_ratio = 2.0f;
  c.drop_path = 0.25f;
  c.layer_scale_init = 0.1f;
  return c;
}

// Same random weights on either device (the constructor's are zeros and ones).
void init(const nn::Block& block, Device dev) {
  uint32_t seed = 100;
  for (nn::NamedParam& p : block.named_parameters())
    p.var.mutable_value() = test::random_tensor(p.var.shape(), seed++, 0.2f).to(dev);
}

struct BlockRun {
  std::vector<float> out;
  std::vector<std::vector<float>> grads;  // input, then every parameter
};

BlockRun run_block(Device dev, bool backward) {
  nn::Block block(config());
  init(block, dev);
  Generator gen(7);
  nn::Context ctx{&gen};
  Var x(test::random_tensor({3, 10, 32}, 1).to(dev), backward);
  Var y = block.forward(x, ctx);
  BlockRun r;
  EXPECT_EQ(y.value().device(), dev);
  r.out = y.value().to_vector();
  if (backward) {
    Var loss = autograd::make_output(Tensor::full({1}, 0.0f), {&y});
    const Tensor g = test::random_tensor(y.shape(), 2).to(dev);
    autograd::record(loss, [y, g](const Tensor&) { autograd::accumulate(y, g); });
    autograd::backward(loss);
    r.grads.push_back(x.grad().to_vector());
    for (const nn::NamedParam& p : block.named_parameters()) r.grads.push_back(p.var.grad().to_vector());
  }
  return r;
}

TEST(DeviceBlock, ForwardEqualsTheCpu) {
  const BlockRun cpu = run_block(Device::cpu, false), gpu = run_block(Device::cuda, false);
  EXPECT_TRUE(test::close(gpu.out, cpu.out, 1e-5, "ViT block forward"));
}

TEST(DeviceBlock, BackwardEqualsTheCpu) {
  const BlockRun cpu = run_block(Device::cpu, true);
  const BlockRun gpu = run_block(Device::cuda, true);
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i)
    EXPECT_TRUE(test::close(gpu.grads[i], cpu.grads[i], 1e-4, "gradient " + std::to_string(i)));
}

}  // namespace
}  // namespace mapet
