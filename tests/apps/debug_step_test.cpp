// Runs the real `mapet debug-step` binary on files this test writes.
#include <cstdio>
#include <filesystem>

#include "engine/io/safetensors.h"
#include "engine/ops/cross_entropy.h"
#include "models/mapet.h"
#include "models/permutation.h"
#include "models/registry.h"
#include "tests/apps/run_mapet.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;

using test::ProcResult;
using test::run_mapet;

class DebugStep : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("mapet_debug_step_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    models::ModelOptions o;
    o.num_classes = 7, o.img_size = 32, o.patch_size = 8;
    model = models::create_vit("vit_standard_tiny_patch16_224", o);
    model->init_weights(4);
    weights = (dir / "w.safetensors").string();
    batch = (dir / "b.safetensors").string();
    out = (dir / "o.safetensors").string();
    io::save_safetensors(weights, io::state_dict(*model));
    images = test::randn({3, 3, 32, 32}, 9);
    labels = Tensor::from_vector(std::vector<int64_t>{6, 0, 3}, {3});
    io::save_safetensors(batch, {{"images", images}, {"labels", labels}});
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string args(const std::string& extra = "") {
    return "debug-step --model vit_standard_tiny_patch16_224 --num-classes 7 --patch-size 8 --weights " + weights +
           " --batch " + batch + " --out " + out + " " + extra;
  }

  fs::path dir;
  std::unique_ptr<models::VisionTransformer> model;
  std::string weights, batch, out;
  Tensor images, labels;
};

TEST_F(DebugStep, WritesLossLogitsAndEveryGradient) {
  ProcResult r = run_mapet(args());
  ASSERT_EQ(r.status, 0) << r.output;
  io::TensorMap o = io::load_safetensors(out);
  nn::Context ctx;
  Var logits = model->forward(Var(images), ctx);
  Var loss = ops::cross_entropy(logits, labels);
  autograd::backward(loss);
  EXPECT_EQ(o.at("loss").to_vector(), loss.value().to_vector());
  EXPECT_EQ(o.at("logits").to_vector(), logits.value().to_vector());
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(o.count("grad." + p.name)) << p.name;
    EXPECT_EQ(o.at("grad." + p.name).to_vector(), p.var.grad().to_vector()) << p.name;
  }
  EXPECT_EQ(o.count("param.cls_token"), 0u);
}

TEST_F(DebugStep, StepsWriteParametersThatMoved) {
  ProcResult r = run_mapet(args("--steps 2 --lr 0.01"));
  ASSERT_EQ(r.status, 0) << r.output;
  io::TensorMap o = io::load_safetensors(out);
  ASSERT_TRUE(o.count("param.head.weight"));
  EXPECT_NE(o.at("param.head.weight").to_vector(), model->parameter("head.weight").value().to_vector());
}

TEST_F(DebugStep, MissingOrExtraWeightsAreNamed) {
  io::TensorMap sd = io::state_dict(*model);
  sd.erase("blocks.1.attn.kv.bias");
  io::save_safetensors(weights, sd);
  ProcResult r = run_mapet(args());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("blocks.1.attn.kv.bias"), std::string::npos) << r.output;

  // A tensor this ViT does not have (timm's fused qkv) is an error naming it.
  sd = io::state_dict(*model);
  sd["blocks.0.attn.qkv.weight"] = Tensor::zeros({3, 3});
  io::save_safetensors(weights, sd);
  r = run_mapet(args());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("blocks.0.attn.qkv.weight"), std::string::npos) << r.output;

  // Pre-training tensors are dropped with a note naming them, as validate and finetune do.
  sd = io::state_dict(*model);
  sd["decoder.weight"] = Tensor::zeros({3, 3});
  io::save_safetensors(weights, sd);
  r = run_mapet(args());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("dropped 1 pre-training tensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("decoder.weight"), std::string::npos) << r.output;
}

// timm-style weights with layer scale (blocks.N.ls{1,2}.gamma), as finetune
// writes them: the architecture (layer scale, global pool, patch, width, depth,
// classes) comes from the weights, with no flag but the model name.
TEST_F(DebugStep, ArchitectureIsReadFromLayerScaleWeights) {
  for (std::string gp : {"avg", "token"}) {
    SCOPED_TRACE(gp);
    models::ModelOptions o;
    o.num_classes = 5, o.img_size = 32, o.patch_size = 8, o.embed_dim = 48, o.depth = 3, o.global_pool = gp;
    o.layer_scale_init = 0.1f, o.drop_path_rate = 0.0f;
    auto ls = models::create_vit("vit_standard_tiny_patch16_224", o);
    ls->init_weights(5);
    io::TensorMap sd = io::state_dict(*ls);
    ASSERT_TRUE(sd.count("blocks.2.ls2.gamma"));
    // Distinct gammas, so a model that ignored them (or kept its init) would give other numbers.
    for (auto& [name, t] : sd)
      if (name.find(".gamma") != std::string::npos)
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.05f + 0.001f * float(i % 17);
    io::save_safetensors(weights, sd);
    Tensor five = Tensor::from_vector(std::vector<int64_t>{4, 0, 2}, {3});
    io::save_safetensors(batch, {{"images", images}, {"labels", five}});

    ProcResult r = run_mapet("debug-step --model vit_standard_tiny_patch16_224 --weights " + weights + " --batch " +
                             batch + " --out " + out);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("layer scale on (blocks.0.ls1.gamma)"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("global pool " + gp), std::string::npos) << r.output;
    io::TensorMap got = io::load_safetensors(out);
    nn::Context ctx;
    Var loss = ops::cross_entropy(ls->forward(Var(images), ctx), five);
    autograd::backward(loss);
    EXPECT_EQ(got.at("loss").to_vector(), loss.value().to_vector());
    for (const auto& p : ls->named_parameters()) {
      ASSERT_TRUE(got.count("grad." + p.name)) << p.name;
      EXPECT_EQ(got.at("grad." + p.name).to_vector(), p.var.grad().to_vector()) << p.name;
    }
  }
}

TEST_F(DebugStep, ABadBatchFileIsNamed) {
  io::save_safetensors(batch, {{"images", images}});
  ProcResult r = run_mapet(args());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("labels"), std::string::npos) << r.output;
  io::save_safetensors(batch, {{"images", images}, {"labels", labels}});
  fs::resize_file(weights, 100);
  r = run_mapet(args());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(weights), std::string::npos) << r.output;
}

// MaPeT weights without layer scale and of another width and depth than the named model's.
TEST_F(DebugStep, MapetArchitectureIsReadFromTheWeights) {
  models::MapetConfig c = models::mapet_config("mapet_tiny_patch16_224");
  c.vit.img_size = 32, c.vit.patch_size = 8, c.vit.embed_dim = 48, c.vit.depth = 2, c.vit.drop_path_rate = 0.0f;
  c.vit.layer_scale_init = 0.0f, c.least_number = 5, c.vocab_size = 11;
  models::MapetModel m(c);
  m.init_weights(3);
  io::save_safetensors(weights, io::state_dict(m));
  models::MapetBatch b;
  b.images = images;
  b.tokens = Tensor::empty({3, 16}, DType::i64);
  b.perm = Tensor::empty({3, 16}, DType::i64);
  models::PermutationConfig pc;
  pc.grid = 4, pc.least_number = 5;
  for (int64_t i = 0; i < 3; ++i) {
    auto order = models::sample_permutation(pc, 1, i);
    for (int64_t p = 0; p < 16; ++p)
      b.perm.data<int64_t>()[i * 16 + p] = order[p], b.tokens.data<int64_t>()[i * 16 + p] = (i + 3 * p) % 11;
  }
  io::save_safetensors(batch, {{"images", b.images}, {"tokens", b.tokens}, {"perm", b.perm}});
  ProcResult r = run_mapet("debug-step --model mapet_tiny_patch16_224 --least-number 5 --weights " + weights +
                           " --batch " + batch + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("layer scale off"), std::string::npos) << r.output;
  nn::Context ctx;
  EXPECT_EQ(io::load_safetensors(out).at("loss").item(), m.forward(b, ctx).loss.value().item());
}

TEST_F(DebugStep, MapetWritesLogitsInNaturalPatchOrder) {
  for (std::string objective : {"mapet", "pet", "mim"}) {
    SCOPED_TRACE(objective);
    models::MapetConfig c = models::mapet_config("mapet_tiny_patch16_224");
    c.vit.img_size = 32, c.vit.patch_size = 8, c.vit.drop_path_rate = 0.0f;
    c.objective = models::parse_objective(objective), c.least_number = 5, c.vocab_size = 13;
    models::MapetModel m(c);
    m.init_weights(6);
    io::save_safetensors(weights, io::state_dict(m));
    models::MapetBatch b;
    b.images = images;
    b.tokens = Tensor::empty({3, 16}, DType::i64);
    b.perm = Tensor::empty({3, 16}, DType::i64);
    b.mask = Tensor::empty({3, 16}, DType::u8);
    models::PermutationConfig pc;
    pc.grid = 4, pc.least_number = 5;
    for (int64_t i = 0; i < 3; ++i) {
      auto order = models::sample_permutation(pc, 2, i);
      auto mask = models::sample_block_mask(4, 5, 2, i, 2);
      for (int64_t p = 0; p < 16; ++p) {
        b.perm.data<int64_t>()[i * 16 + p] = order[p];
        b.tokens.data<int64_t>()[i * 16 + p] = (i * 7 + p * 5) % 13;
        b.mask.data<uint8_t>()[i * 16 + p] = mask[p];
      }
    }
    io::TensorMap file{{"images", b.images}, {"tokens", b.tokens}};
    if (objective == "mim") file["mask"] = b.mask; else file["perm"] = b.perm;
    io::save_safetensors(batch, file);
    ProcResult r = run_mapet("debug-step --model mapet_tiny_patch16_224 --patch-size 8 --least-number 5 --objective " +
                             objective + " --weights " + weights + " --batch " + batch + " --out " + out);
    ASSERT_EQ(r.status, 0) << r.output;
    io::TensorMap o = io::load_safetensors(out);
    nn::Context ctx;
    models::MapetOutput want = m.forward(b, ctx);
    autograd::backward(want.loss);
    const int64_t M = want.per_sample;
    ASSERT_EQ(o.at("logits").shape(), (Shape{3, M, 13}));
    EXPECT_EQ(o.at("loss").item(), want.loss.value().item());
    for (int64_t i = 0; i < 3; ++i) {
      int64_t prev = -1;
      for (int64_t q = 0; q < M; ++q) {  // row q of the file = the q-th predicted patch by patch index
        int64_t best_row = -1, best_patch = 1 << 30;
        for (int64_t k = 0; k < M; ++k) {
          int64_t p = want.patch_index.data<int64_t>()[i * M + k];
          if (p > prev && p < best_patch) best_patch = p, best_row = k;
        }
        prev = best_patch;
        for (int64_t v = 0; v < 13; ++v)
          ASSERT_EQ(o.at("logits").at({i, q, v}), want.logits.value().at({i * M + best_row, v}));
      }
    }
    for (const auto& p : m.named_parameters())
      EXPECT_EQ(o.at("grad." + p.name).to_vector(), p.var.grad().to_vector()) << p.name;
  }
}

}  // namespace
}  // namespace mapet
