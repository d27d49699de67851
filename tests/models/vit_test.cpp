#include "models/vit.h"

#include <cmath>
#include <filesystem>

#include "engine/io/safetensors.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/ops.h"
#include "engine/optim/adamw.h"
#include "engine/threads.h"
#include "kernels/cpu/gemm.h"
#include "models/registry.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

models::VitConfig tiny_config() {
  models::VitConfig c;
  c.img_size = 20, c.patch_size = 4, c.in_chans = 3, c.num_classes = 5;
  c.embed_dim = 24, c.depth = 2, c.num_heads = 3;
  return c;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("mapet_vit_test_" + name)).string();
}

TEST(Vit, ParameterNamesAndCountMatchTimm) {
  auto m = models::create_vit("vit_standard_small_patch16_224");
  // timm's vit_small_patch16_224 has 22,050,664 parameters; the q / kv split keeps the count.
  EXPECT_EQ(m->num_parameters(), 22050664);
  std::vector<std::string> names;
  for (const auto& p : m->named_parameters()) names.push_back(p.name);
  for (const char* n : {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
                        "blocks.0.norm1.weight", "blocks.0.attn.q.weight", "blocks.0.attn.q.bias",
                        "blocks.0.attn.kv.weight", "blocks.11.attn.proj.bias", "blocks.11.mlp.fc1.weight",
                        "blocks.11.mlp.fc2.bias", "blocks.5.norm2.bias", "norm.weight", "head.weight", "head.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(m->parameter("patch_embed.proj.weight").shape(), (Shape{384, 3, 16, 16}));
  EXPECT_EQ(m->parameter("blocks.0.attn.kv.weight").shape(), (Shape{768, 384}));
  EXPECT_EQ(m->parameter("pos_embed").shape(), (Shape{1, 197, 384}));

  models::ModelOptions o;
  o.global_pool = "avg";
  auto avg = models::create_vit("vit_standard_tiny_patch16_224", o);
  EXPECT_NO_THROW(avg->parameter("fc_norm.weight"));
  EXPECT_THROW(avg->parameter("norm.weight"), Error);
}

TEST(Vit, OverfitsATinyBatch) {
  models::VisionTransformer m(tiny_config());
  m.init_weights(3);
  uint64_t s = test::fresh_seed();
  Tensor images = test::randn({6, 3, 20, 20}, s);
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 1}, {6});
  optim::AdamWConfig oc;
  oc.lr = 3e-3f, oc.weight_decay = 0.0f;
  optim::AdamW opt(m.named_parameters(), oc);
  nn::Context ctx;
  float first = 0, last = 0;
  for (int step = 0; step < 120; ++step) {
    opt.zero_grad();
    Var loss = ops::cross_entropy(m.forward(Var(images), ctx), labels);
    if (step == 0) first = loss.value().item();
    last = loss.value().item();
    autograd::backward(loss);
    opt.step();
  }
  EXPECT_NEAR(first, std::log(5.0f), 0.5f);
  EXPECT_LT(last, 0.05f) << "first loss " << first;
}

TEST(Vit, SafetensorsRoundTripIsExact) {
  models::VisionTransformer a(tiny_config()), b(tiny_config());
  a.init_weights(1);
  b.init_weights(2);
  std::string path = temp_path("roundtrip.safetensors");
  io::save_safetensors(path, io::state_dict(a));
  io::load_into(b, io::load_safetensors(path), path);
  for (const auto& p : a.named_parameters()) {
    Tensor other = b.parameter(p.name).value();
    ASSERT_EQ(p.var.value().to_vector(), other.to_vector()) << p.name;
  }
  autograd::NoGradGuard ng;
  nn::Context ctx;
  Tensor x = test::randn({2, 3, 20, 20}, 5);
  EXPECT_EQ(a.forward(Var(x), ctx).value().to_vector(), b.forward(Var(x), ctx).value().to_vector());
  std::filesystem::remove(path);
}

TEST(Vit, LoadingAWrongShapeNamesTheTensor) {
  models::VisionTransformer a(tiny_config());
  io::TensorMap sd = io::state_dict(a);
  sd["blocks.1.mlp.fc1.weight"] = Tensor::zeros({96, 23});
  try {
    io::load_into(a, sd, "ckpt.safetensors");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("blocks.1.mlp.fc1.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ckpt.safetensors"), std::string::npos) << msg;
  }
  sd = io::state_dict(a);
  sd.erase("cls_token");
  EXPECT_THROW(io::load_into(a, sd, "x"), Error);
  sd = io::state_dict(a);
  sd["decoder.weight"] = Tensor::zeros({2, 2});
  EXPECT_THROW(io::load_into(a, sd, "x"), Error);
  EXPECT_NO_THROW(io::load_into(a, sd, "x", /*allow_unexpected=*/true));
}

// Five training steps with drop-path and dropout on; returns the losses.
std::vector<float> trajectory(uint64_t seed) {
  models::VitConfig c = tiny_config();
  c.drop_path_rate = 0.2f, c.drop_rate = 0.1f;
  models::VisionTransformer m(c);
  m.init_weights(seed);
  optim::AdamW opt(m.named_parameters(), optim::AdamWConfig{});
  Generator g(seed + 1);
  nn::Context ctx{&g};
  Tensor images = test::randn({4, 3, 20, 20}, seed + 2);
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3}, {4});
  std::vector<float> losses;
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    Var loss = ops::cross_entropy(m.forward(Var(images), ctx), labels, 0.1f);
    losses.push_back(loss.value().item());
    autograd::backward(loss);
    opt.step();
  }
  return losses;
}

// MaPeT's last block answers only for its query stream: a block whose
// attention step returns the last rows must give those rows of the full
// block, and the same gradients (x, every parameter), drop path included.
TEST(Vit, BlockAnsweringForItsLastRowsMatchesTheFullBlock) {
  nn::BlockConfig bc;
  bc.dim = 24, bc.heads = 2, bc.drop_path = 0.4f, bc.layer_scale_init = 0.1f;
  nn::Block block(bc);
  block.train(true);
  uint64_t seed = test::fresh_seed();
  for (const auto& p : block.named_parameters()) p.var.mutable_value().copy_(test::randn(p.var.shape(), seed++, 0.3f));
  const int64_t B = 5, T = 13, first = 8;
  const Tensor x0 = test::randn({B, T, bc.dim}, seed++), cotangent = test::randn({B, T - first, bc.dim}, seed++);
  struct Result {
    Tensor out, dx;
    std::vector<Tensor> grads;
  };
  auto run = [&](bool last_rows_only) {
    for (const auto& p : block.named_parameters()) p.var.zero_grad();
    Var x(x0.clone(), true);
    Generator g(seed);
    nn::Context ctx{&g};
    ops::IntervalMask mask = ops::mapet_interval_mask(common::Objective::mim, T, 1);
    if (last_rows_only) {
      mask.real_end.erase(mask.real_end.begin(), mask.real_end.begin() + first);
      mask.mask_start.erase(mask.mask_start.begin(), mask.mask_start.begin() + first);
    }
    Var out = block.forward(x, ctx, [&](const nn::Attention& a, const Var& y) {
      Var y_q = last_rows_only ? ops::slice(y, 1, first, T) : y;
      return a.forward(y_q, y, [&](const Var& q, const Var& kv) {
        return ops::interval_attention_packed(q, kv, a.heads, mask);
      });
    });
    if (!last_rows_only) out = ops::slice(out, 1, first, T);
    autograd::backward(ops::sum(ops::mul(out, Var(cotangent))));
    Result r{out.value().contiguous(), x.grad(), {}};
    for (const auto& p : block.named_parameters()) r.grads.push_back(p.var.grad());
    return r;
  };
  const Result full = run(false), last = run(true);
  EXPECT_TRUE(test::all_close(last.out, test::to_double(full.out), 1e-5, 1e-6));
  EXPECT_TRUE(test::all_close(last.dx, test::to_double(full.dx), 1e-4, 1e-5));
  const auto names = block.named_parameters();
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_TRUE(test::all_close(last.grads[i], test::to_double(full.grads[i]), 1e-4, 1e-5)) << names[i].name;
  // The content rows before `first` get no gradient through the attention output, only through k and v.
  double content_grad = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < first; ++t)
      for (int64_t c = 0; c < bc.dim; ++c) content_grad += std::abs(full.dx.at({b, t, c}));
  EXPECT_GT(content_grad, 0.0) << "keys and values should carry gradient to every row";
}

TEST(Vit, SameSeedSameTrajectoryForOneAndTwoThreads) {
  int before = num_threads();
  set_num_threads(1);
  std::vector<float> one = trajectory(11), one_again = trajectory(11);
  set_num_threads(2);
  std::vector<float> two = trajectory(11), two_again = trajectory(11);
  set_num_threads(before);
  EXPECT_EQ(one, one_again);
  EXPECT_EQ(two, two_again);
  if (cpu::gemm_thread_count_invariant()) {
    EXPECT_EQ(one, two) << "the thread count changed the numbers";
  } else {  // oneDNN may sum long inner dimensions in another order with 2 threads
    ASSERT_EQ(one.size(), two.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-4 * (1 + std::fabs(one[i]))) << i;
  }
  EXPECT_NE(one, trajectory(12)) << "the seed had no effect";
}

}  // namespace
}  // namespace mapet
