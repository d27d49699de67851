// One tiny MaPeT training step on Device::cuda (every kernel under simt)
// against the CPU, for the three objectives (mapet, pet, mim), in f32 and
// under --amp: the loss, the logits and every parameter's gradient of one
// forward + backward, then the parameters after three AdamW steps with the
// global-norm clipping of the trainer. Dropout and drop path are on, so equal
// results also say that both devices drew the same Philox masks. The ViT
// classifier (both pools) takes the same three steps in f32.
//
// Tolerances. Logits, loss and gradients: relative to each tensor's largest
// CPU value (close_to_scale); parameters after the steps: absolute (they are
// O(0.02..1), the steps O(lr)).
// - f32: the two backends add the same products in different orders (the
//   CPU's GEMM and attention tiles against the CUDA kernels'; every other
//   kernel is bit for bit its twin), so values agree to a few float roundings
//   (2^-24 each) per sum of at most 128 terms: 2e-6 of the scale for the
//   forward, 5e-6 for the gradients (two blocks and back again). Adam divides
//   each gradient by its running RMS, so an element whose gradient is near
//   rounding noise may move by a different fraction of lr: 3 steps at lr 1e-3
//   stay within 2e-5 (0.02 lr); a wrong update rule is off by ~lr.
// - --amp: the device rounds GEMM and attention operands to bf16 (relative
//   error 2^-9 per operand) while this CPU may keep f32 (configure_amp grants
//   bf16 on the CPU only with native bf16 dot products; this machine has
//   none): a few bf16 roundings through the step, 2e-2 of the scale forward,
//   5e-2 for gradients. Adam's normalised step is at most ~lr per element, so
//   parameters whose gradients differ by bf16 noise can drift apart by up to
//   2 lr per step: 6e-3 after 3 steps at lr 1e-3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "engine/autograd.h"
#include "engine/ops/cross_entropy.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"
#include "engine/precision.h"
#include "engine/rng.h"
#include "models/mapet.h"
#include "models/permutation.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

constexpr float kLr = 1e-3f;
constexpr double kClip = 0.05;  // below the gradients' norm here, so clipping scales every step

models::MapetConfig tiny(common::Objective obj) {
  models::MapetConfig c;
  c.vit.img_size = 16, c.vit.patch_size = 4, c.vit.embed_dim = 32, c.vit.depth = 2, c.vit.num_heads = 2;
  c.vit.layer_scale_init = 0.1f;
  c.vit.drop_rate = 0.1f;
  c.vit.drop_path_rate = 0.2f;
  c.objective = obj, c.least_number = 5, c.vocab_size = 13, c.mim_mask_count = 6;
  return c;
}

// The batch on `dev`, as the apps hand it over (built on the host, moved with .to()).
models::MapetBatch make_batch(const models::MapetConfig& c, int64_t B, uint64_t seed, Device dev) {
  const int64_t P = c.vit.num_patches();
  models::MapetBatch b;
  b.images = test::random_tensor({B, 3, c.vit.img_size, c.vit.img_size}, static_cast<uint32_t>(seed));
  b.tokens = Tensor::empty({B, P}, DType::i64);
  b.perm = Tensor::empty({B, P}, DType::i64);
  b.mask = Tensor::empty({B, P}, DType::u8);
  models::PermutationConfig pc;
  pc.grid = c.vit.grid(), pc.least_number = c.least_number;
  Generator g(seed + 1);
  for (int64_t i = 0; i < B; ++i) {
    auto order = models::sample_permutation(pc, seed, static_cast<uint64_t>(i));
    auto mask = models::sample_block_mask(c.vit.grid(), c.mim_mask_count, seed, static_cast<uint64_t>(i), 2);
    for (int64_t p = 0; p < P; ++p) {
      b.perm.data<int64_t>()[i * P + p] = order[p];
      b.tokens.data<int64_t>()[i * P + p] = static_cast<int64_t>(g.randint(c.vocab_size));
      b.mask.data<uint8_t>()[i * P + p] = mask[p];
    }
  }
  b.images = b.images.to(dev), b.tokens = b.tokens.to(dev), b.perm = b.perm.to(dev), b.mask = b.mask.to(dev);
  return b;
}

struct StepRun {
  float loss = 0;
  std::vector<float> logits;
  std::vector<int64_t> targets;
  std::vector<std::string> names;
  std::vector<std::vector<float>> grads;   // of the first forward + backward
  std::vector<std::vector<float>> params;  // after three AdamW steps
  std::vector<double> norms;               // the global gradient norm before each clipping
  double accuracy = -1.0;                  // MaPeT's token accuracy of the first forward
};

std::vector<int64_t> ints(const Tensor& t) {
  const Tensor h = t.to(Device::cpu).contiguous();
  return std::vector<int64_t>(h.data<int64_t>(), h.data<int64_t>() + h.numel());
}

// What one forward of a model gives: the loss and the logits (and, for MaPeT, targets and accuracy).
struct Forward {
  Var loss, logits;
  Tensor targets;
  double accuracy = -1.0;
};

// Three training steps as apps/train's Trainer takes them (forward, backward,
// clip_grad_norm, AdamW, zero_grad), the model already on `dev`; the first
// step's loss, logits and gradients and the final parameters recorded.
StepRun train_three_steps(Device dev, nn::Module& model, const std::function<Forward(int step)>& forward) {
  model.train(true);
  optim::AdamW opt(model.named_parameters(), optim::AdamWConfig{});
  StepRun r;
  for (int step = 0; step < 3; ++step) {
    const Forward out = forward(step);
    EXPECT_EQ(out.loss.value().device(), dev);
    EXPECT_EQ(out.logits.value().device(), dev);
    autograd::backward(out.loss);
    if (step == 0) {
      r.loss = out.loss.value().item();
      r.logits = out.logits.value().to_vector();
      if (out.targets.defined()) {
        EXPECT_EQ(out.targets.device(), dev);
        r.targets = ints(out.targets);
      }
      r.accuracy = out.accuracy;
      for (const nn::NamedParam& p : model.named_parameters()) {
        r.names.push_back(p.name);
        EXPECT_TRUE(p.var.grad().defined()) << p.name << " got no gradient";
        if (p.var.grad().defined()) {
          EXPECT_EQ(p.var.grad().device(), dev) << p.name;
        }
        r.grads.push_back(p.var.grad().defined() ? p.var.grad().to_vector() : std::vector<float>());
      }
    }
    r.norms.push_back(optim::clip_grad_norm(model.named_parameters(), kClip));
    opt.step(kLr);
    opt.zero_grad();
  }
  for (const nn::NamedParam& p : model.named_parameters()) {
    EXPECT_EQ(p.var.value().device(), dev) << p.name;
    r.params.push_back(p.var.value().to_vector());
  }
  return r;
}

StepRun run_steps(Device dev, common::Objective obj, bool amp) {
  configure_amp(amp);
  const models::MapetConfig c = tiny(obj);
  models::MapetModel model(c);
  model.init_weights(3);
  model.to(dev);
  Generator gen(11);
  nn::Context ctx{&gen};
  StepRun r = train_three_steps(dev, model, [&](int step) {
    const models::MapetBatch batch = make_batch(c, 3, 40 + static_cast<uint64_t>(step), dev);
    const models::MapetOutput out = model.forward(batch, ctx);
    return Forward{out.loss, out.logits, out.targets, out.token_accuracy};
  });
  configure_amp(false);
  return r;
}

// The ViT classifier (models/vit.cpp) as fine-tuning trains it: the CLS token
// or the average pool over patch tokens (ops::mean), the head, label-smoothed
// cross-entropy against labels on the device.
StepRun run_vit_steps(Device dev, const std::string& pool) {
  models::VitConfig c;
  c.img_size = 16, c.patch_size = 4, c.embed_dim = 32, c.depth = 2, c.num_heads = 2, c.num_classes = 5;
  c.global_pool = pool, c.drop_rate = 0.1f, c.drop_path_rate = 0.2f;
  models::VisionTransformer model(c);
  model.init_weights(5);
  model.to(dev);
  Generator gen(13);
  nn::Context ctx{&gen};
  return train_three_steps(dev, model, [&](int step) {
    const Tensor images = test::random_tensor({3, 3, 16, 16}, 60 + static_cast<uint32_t>(step)).to(dev);
    const Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 4, step}, {3}).to(dev);
    const Var logits = model.forward(Var(images), ctx);
    return Forward{ops::cross_entropy(logits, labels, 0.1f), logits, Tensor(), -1.0};
  });
}

// test::close relative to the tensor's own largest value (gradients here are
// far below 1, where test::close's floor of 1 would make the check absolute).
::testing::AssertionResult close_to_scale(std::vector<float> got, std::vector<float> want, double tol,
                                          const std::string& what) {
  float scale = 0.0f;
  for (float w : want) scale = std::max(scale, std::fabs(w));
  if (scale > 0.0f) {
    for (float& g : got) g /= scale;
    for (float& w : want) w /= scale;
  }
  return test::close(got, want, tol, what);
}

const char* name_of(common::Objective obj) {
  return obj == common::Objective::mapet ? "mapet" : obj == common::Objective::pet ? "pet" : "mim";
}

void expect_same_run(const std::string& what, const StepRun& cpu, const StepRun& gpu, double fwd_tol, double grad_tol,
                     double param_tol) {
  EXPECT_EQ(gpu.targets, cpu.targets) << what;
  EXPECT_TRUE(close_to_scale({gpu.loss}, {cpu.loss}, fwd_tol, what + " loss"));
  EXPECT_TRUE(close_to_scale(gpu.logits, cpu.logits, fwd_tol, what + " logits"));
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i)
    EXPECT_TRUE(close_to_scale(gpu.grads[i], cpu.grads[i], grad_tol, what + " gradient of " + cpu.names[i]));
  ASSERT_EQ(gpu.norms.size(), cpu.norms.size());
  for (size_t i = 0; i < cpu.norms.size(); ++i) {
    EXPECT_GT(cpu.norms[i], kClip) << what << ": clipping did nothing at step " << i;
    EXPECT_NEAR(gpu.norms[i], cpu.norms[i], grad_tol * cpu.norms[i]) << what << " gradient norm, step " << i;
  }
  ASSERT_EQ(gpu.params.size(), cpu.params.size());
  for (size_t i = 0; i < cpu.params.size(); ++i)
    EXPECT_TRUE(test::close(gpu.params[i], cpu.params[i], param_tol, what + " " + cpu.names[i] + " after 3 steps"));
}

void expect_same_step(common::Objective obj, bool amp, double fwd_tol, double grad_tol, double param_tol) {
  const std::string what = std::string(name_of(obj)) + (amp ? " (amp)" : " (f32)");
  const StepRun cpu = run_steps(Device::cpu, obj, amp), gpu = run_steps(Device::cuda, obj, amp);
  expect_same_run(what, cpu, gpu, fwd_tol, grad_tol, param_tol);
  // Top-1 on the device (argmax_rows) counts what the CPU counts; under amp a near tie may round either way.
  if (!amp) {
    EXPECT_EQ(gpu.accuracy, cpu.accuracy) << what;
  }
  EXPECT_GE(gpu.accuracy, 0.0);
  if (amp) {  // --amp did change what the device computes (bf16 operands), so the looser tolerance is needed
    const StepRun gpu_f32 = run_steps(Device::cuda, obj, false);
    EXPECT_FALSE(close_to_scale(gpu.logits, gpu_f32.logits, 1e-5, what + " against f32 on the device"));
  }
}

// Measured worst errors (this machine, relative to each tensor's largest value;
// parameters absolute): f32 logits 1.8e-7, gradients 5.4e-7, parameters 5.3e-6;
// amp logits 2.9e-3, gradients 9.1e-3, parameters 3.0e-3. The tolerances below
// are the bounds argued at the top of the file, with room above those.
constexpr double kF32Forward = 2e-6, kF32Grad = 5e-6, kF32Param = 2e-5;  // parameters: 0.02 lr
constexpr double kAmpForward = 2e-2, kAmpGrad = 5e-2, kAmpParam = 6e-3;  // parameters: 2 lr per step

TEST(DeviceStep, MapetF32) { expect_same_step(common::Objective::mapet, false, kF32Forward, kF32Grad, kF32Param); }
TEST(DeviceStep, PetF32) { expect_same_step(common::Objective::pet, false, kF32Forward, kF32Grad, kF32Param); }
TEST(DeviceStep, MimF32) { expect_same_step(common::Objective::mim, false, kF32Forward, kF32Grad, kF32Param); }
TEST(DeviceStep, MapetAmp) { expect_same_step(common::Objective::mapet, true, kAmpForward, kAmpGrad, kAmpParam); }
TEST(DeviceStep, PetAmp) { expect_same_step(common::Objective::pet, true, kAmpForward, kAmpGrad, kAmpParam); }
TEST(DeviceStep, MimAmp) { expect_same_step(common::Objective::mim, true, kAmpForward, kAmpGrad, kAmpParam); }

TEST(DeviceStep, VitClassifierF32) {
  for (const char* pool : {"avg", "token"}) {
    const StepRun cpu = run_vit_steps(Device::cpu, pool), gpu = run_vit_steps(Device::cuda, pool);
    expect_same_run(std::string("vit, pool ") + pool, cpu, gpu, kF32Forward, kF32Grad, kF32Param);
  }
}

}  // namespace
}  // namespace mapet
