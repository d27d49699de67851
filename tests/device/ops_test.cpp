// Every engine op that has a CUDA kernel, on Device::cuda (kernels under simt)
// against the CPU backend: forward and, where the op has one, backward through
// autograd. Tolerances are relative to each tensor's largest value
// (equivalence.h); the kernels' own twin tests (tests/kernels) pin them closer.
#include <gtest/gtest.h>

#include "engine/ops/cross_entropy.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gelu.h"
#include "engine/ops/interval_attention.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/linear.h"
#include "engine/ops/patch_embed.h"
#include "engine/ops/reduce.h"
#include "engine/ops/residual.h"
#include "engine/ops/shape.h"
#include "engine/precision.h"
#include "engine/rng.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

using test::expect_equivalent;
using test::random_tensor;

TEST(DeviceOps, LayerNorm) {
  expect_equivalent("layer_norm", {random_tensor({7, 37}, 1), random_tensor({37}, 2), random_tensor({37}, 3)},
                    [](std::vector<Var>& v) { return ops::layer_norm(v[0], v[1], v[2]); }, random_tensor({7, 37}, 4),
                    1e-5);
}

TEST(DeviceOps, GeluAndBiasGelu) {
  expect_equivalent("gelu", {random_tensor({5, 33}, 5, 2.0f)}, [](std::vector<Var>& v) { return ops::gelu(v[0]); },
                    random_tensor({5, 33}, 6), 1e-6);
  expect_equivalent("bias_gelu", {random_tensor({9, 40}, 7, 2.0f), random_tensor({40}, 8)},
                    [](std::vector<Var>& v) { return ops::bias_gelu(v[0], v[1]); }, random_tensor({9, 40}, 9), 1e-5);
}

TEST(DeviceOps, ScaledResidualWithDropPath) {
  // The same Philox stream on both devices: the same rows dropped.
  expect_equivalent("scaled_residual",
                    {random_tensor({6, 5, 24}, 10), random_tensor({6, 5, 24}, 11), random_tensor({24}, 12)},
                    [](std::vector<Var>& v) {
                      Generator gen(42);
                      return ops::scaled_residual(v[0], v[1], v[2], 0.4f, &gen);
                    },
                    random_tensor({6, 5, 24}, 13), 1e-6);
  expect_equivalent("drop_path", {random_tensor({8, 3, 10}, 14)},
                    [](std::vector<Var>& v) {
                      Generator gen(43);
                      return ops::drop_path(v[0], 0.5f, true, gen);
                    },
                    random_tensor({8, 3, 10}, 15), 1e-6);
}

TEST(DeviceOps, Dropout) {
  const std::vector<Tensor> x = {random_tensor({4, 77}, 16)};
  auto op = [](std::vector<Var>& v) {
    Generator gen(44);
    return ops::dropout(v[0], 0.3f, true, gen);
  };
  const Tensor up = random_tensor({4, 77}, 57);
  const test::OpRun cpu = test::run_op(Device::cpu, x, op, up), gpu = test::run_op(Device::cuda, x, op, up);
  EXPECT_TRUE(test::close(gpu.out, cpu.out, 1e-6, "dropout"));
  EXPECT_TRUE(test::close(gpu.grads[0], cpu.grads[0], 1e-6, "dropout backward"));
  size_t zeros = 0;
  for (float y : cpu.out) zeros += y == 0.0f;
  EXPECT_GT(zeros, 0u);  // some dropped, so equal outputs mean equal masks
}

TEST(DeviceOps, CrossEntropy) {
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{3, 0, 49, 7, -100, 12, 12, 1, 30, 2, 48, 5, 9}, {13});
  expect_equivalent("cross_entropy", {random_tensor({13, 50}, 17, 3.0f)},
                    [&](std::vector<Var>& v) {
                      return ops::cross_entropy(v[0], labels.to(v[0].value().device()), 0.1f, -100);
                    },
                    Tensor::full({1}, 0.7f), 1e-5);
}

TEST(DeviceOps, LinearAndMatmulOnTheOwnGemm) {
  expect_equivalent("linear", {random_tensor({3, 5, 19}, 18), random_tensor({11, 19}, 19), random_tensor({11}, 20)},
                    [](std::vector<Var>& v) { return ops::linear(v[0], v[1], v[2]); }, random_tensor({3, 5, 11}, 21),
                    1e-5);
  expect_equivalent("linear without bias", {random_tensor({13, 33}, 22), random_tensor({7, 33}, 23)},
                    [](std::vector<Var>& v) { return ops::linear(v[0], v[1], Var()); }, random_tensor({13, 7}, 24),
                    1e-5);
  expect_equivalent("matmul", {random_tensor({2, 7, 9}, 25), random_tensor({2, 9, 5}, 26)},
                    [](std::vector<Var>& v) { return ops::matmul(v[0], v[1]); }, random_tensor({2, 7, 5}, 27), 1e-5);
}

TEST(DeviceOps, LinearUnderAmpRunsBf16OnTheDevice) {
  // --amp on the device: bf16 operands (the bf16 casts and the tensor-core
  // GEMM), f32 sums. This CPU may run f32 (no native bf16): bf16's tolerance.
  configure_amp(true);
  const std::vector<Tensor> in = {random_tensor({6, 40}, 28), random_tensor({24, 40}, 29), random_tensor({24}, 30)};
  auto op = [](std::vector<Var>& v) { return ops::linear(v[0], v[1], v[2]); };
  const Tensor up = random_tensor({6, 24}, 31);
  const test::OpRun gpu = test::run_op(Device::cuda, in, op, up);
  configure_amp(false);
  const test::OpRun cpu = test::run_op(Device::cpu, in, op, up);
  EXPECT_TRUE(test::close(gpu.out, cpu.out, 2e-2, "linear (amp) forward"));
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(test::close(gpu.grads[i], cpu.grads[i], 2e-2, "linear (amp) gradient"));
  EXPECT_FALSE(test::close(gpu.out, cpu.out, 1e-7, "bf16 differs from f32"));  // it did round to bf16
}

// Nine query rows over 8 real keys and 4 mask tokens, each with its own intervals.
ops::IntervalMask test_mask() {
  ops::IntervalMask m;
  m.num_real = 8;
  m.real_end = {1, 2, 3, 8, 5, 8, 7, 4, 6};
  m.mask_start = {0, 4, 1, 2, 4, 3, 0, 2, 1};
  return m;
}

TEST(DeviceOps, IntervalAttention) {
  const ops::IntervalMask mask = test_mask();
  expect_equivalent("interval_attention",
                    {random_tensor({2, 2, 9, 16}, 32), random_tensor({2, 2, 12, 16}, 33), random_tensor({2, 2, 12, 16}, 34)},
                    [&](std::vector<Var>& v) { return ops::interval_attention(v[0], v[1], v[2], mask); },
                    random_tensor({2, 2, 9, 16}, 35), 1e-5);
  expect_equivalent("interval_attention_packed", {random_tensor({2, 9, 34}, 36), random_tensor({2, 12, 68}, 37)},
                    [&](std::vector<Var>& v) { return ops::interval_attention_packed(v[0], v[1], 2, mask); },
                    random_tensor({2, 9, 34}, 38), 1e-5);
}

TEST(DeviceOps, PatchEmbed) {
  expect_equivalent("patch_embed",
                    {random_tensor({2, 3, 8, 12}, 39), random_tensor({10, 3, 4, 4}, 40), random_tensor({10}, 41)},
                    [](std::vector<Var>& v) { return ops::patch_embed(v[0], v[1], v[2], 4); },
                    random_tensor({2, 6, 10}, 42), 1e-5);
}

TEST(DeviceOps, MixedDevicesNameTheOp) {
  Var x(random_tensor({3, 8}, 43).to(Device::cuda)), g(Tensor::full({8}, 1.0f)), b(Tensor::zeros({8}));
  try {
    ops::layer_norm(x, g, b);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer_norm: tensors on different devices (cuda and cpu)"), std::string::npos)
        << e.what();
  }
}

TEST(DeviceOps, KernelErrorsNameTheEntryPoint) {
  // Head dim 200 is beyond the CUDA kernel (1..128): its refusal reaches the caller with the entry point's name.
  ops::IntervalMask m;
  m.num_real = 2;
  m.real_end = {1, 2};
  m.mask_start = {0, 0};
  Var q(random_tensor({1, 1, 2, 200}, 44).to(Device::cuda)), k(random_tensor({1, 1, 2, 200}, 45).to(Device::cuda));
  try {
    ops::interval_attention(q, k, k, m);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("interval_attention_forward: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("head dim 200"), std::string::npos) << e.what();
  }
}

TEST(DeviceOps, MeanOverEachDimension) {  // cuda::mean_dim: the CPU's order of sums, so bit for bit
  for (int64_t dim : {0, 1, 2})
    expect_equivalent("mean over dim " + std::to_string(dim), {random_tensor({3, 7, 5}, 46)},
                      [dim](std::vector<Var>& v) { return ops::mean(v[0], dim); },
                      random_tensor(dim == 0 ? Shape{7, 5} : dim == 1 ? Shape{3, 5} : Shape{3, 7}, 47), 0);
  // The ViT's average pool: the mean over the patch tokens of a slice (a strided view).
  expect_equivalent("mean of a slice", {random_tensor({2, 9, 6}, 48)},
                    [](std::vector<Var>& v) { return ops::mean(ops::slice(v[0], 1, 1, 9), 1); },
                    random_tensor({2, 6}, 49), 0);
}

TEST(DeviceOps, SumOfEverything) {  // sum_rows of one column: the same chunks in the same order
  expect_equivalent("sum", {random_tensor({13, 67}, 50)}, [](std::vector<Var>& v) { return ops::sum(v[0]); },
                    Tensor::full({1}, 0.75f), 0);
  expect_equivalent("sum of one value", {random_tensor({1}, 51)}, [](std::vector<Var>& v) { return ops::sum(v[0]); },
                    Tensor::full({1}, -2.0f), 0);
}

TEST(DeviceOps, BackwardSeedsTheLossOnItsDevice) {
  // The trainer's gradient accumulation backs through scale(loss, 1/accum): its
  // backward must get d(loss)/d(loss) = 1 on the device, not a host tensor.
  Var x(random_tensor({4, 5}, 58).to(Device::cuda), true);
  Var loss = ops::scale(ops::sum(x), 0.5f);
  autograd::backward(loss);
  EXPECT_EQ(loss.grad().device(), Device::cuda);
  EXPECT_EQ(x.grad().device(), Device::cuda);
  EXPECT_EQ(x.grad().to_vector(), std::vector<float>(20, 0.5f));
}

TEST(DeviceOps, GatherTokens) {  // the batched embedding kernels: copies, and in-order sums in the backward
  // Per sample its own order, with a repeated token (its gradients add up) and an unused one (zero gradient).
  const Tensor index = Tensor::from_vector(std::vector<int64_t>{4, 0, 2, 2, 1, 3, 0, 4, 1, 1}, {2, 5});
  expect_equivalent("gather_tokens", {random_tensor({2, 5, 3, 4}, 52)},
                    [&](std::vector<Var>& v) { return ops::gather_tokens(v[0], index.to(v[0].value().device())); },
                    random_tensor({2, 5, 3, 4}, 53), 0);
  // The index must be where x is: a CPU index with a device x names the op.
  Var x(random_tensor({2, 5, 4}, 54).to(Device::cuda));
  try {
    ops::gather_tokens(x, index);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gather_tokens: tensors on different devices"), std::string::npos)
        << e.what();
  }
  // Indices are checked on the host before any kernel runs.
  EXPECT_THROW(ops::gather_tokens(x, Tensor::from_vector(std::vector<int64_t>{0, 5}, {2, 1}).to(Device::cuda)), Error);
}

}  // namespace
}  // namespace mapet

namespace mapet {
namespace {

TEST(DeviceOps, EmbeddingLookup) {  // index_select on rows: embedding_forward, and embedding_backward's in-order sums
  const Tensor table = test::random_tensor({11, 6}, 55);
  const Tensor index = Tensor::from_vector(std::vector<int64_t>{3, 0, 10, 3, 7}, {5});
  expect_equivalent("index_select", {table}, [&](std::vector<Var>& v) { return ops::index_select(v[0], 0, index); },
                    random_tensor({5, 6}, 56), 0);
}

}  // namespace
}  // namespace mapet

namespace mapet {
namespace {

TEST(DeviceOps, ConcatExpandAndContiguousOnTheDevice) {
  expect_equivalent("concat", {random_tensor({2, 3, 5}, 48), random_tensor({2, 4, 5}, 49)},
                    [](std::vector<Var>& v) { return ops::concat({v[0], v[1]}, 1); }, random_tensor({2, 7, 5}, 50), 0);
  expect_equivalent("expand_batch", {random_tensor({1, 4, 6}, 51)},
                    [](std::vector<Var>& v) { return ops::expand_batch(v[0], 5); }, random_tensor({5, 4, 6}, 52),
                    1e-6);
  expect_equivalent("contiguous of a transpose", {random_tensor({3, 4, 6}, 53)},
                    [](std::vector<Var>& v) { return ops::contiguous(ops::transpose(v[0], 0, 2)); },
                    random_tensor({6, 4, 3}, 54), 0);
}

}  // namespace
}  // namespace mapet
