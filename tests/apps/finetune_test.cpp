// `mapet finetune`: the recipe's parts (layer-wise lr decay, mixup / cutmix
// and their loss) against their definitions, and the real binary on the tiny
// dataset of the pretrain tests: fine-tuning from a pre-training run beats
// chance, the run folder is complete, a killed run resumes to the same losses,
// and a backbone of another shape is refused by name.
#include <cmath>
#include <cstdio>

#include "apps/train/checkpoint.h"
#include "apps/train/layer_decay.h"
#include "apps/train/mixup.h"
#include "engine/rng.h"
#include "tests/apps/pretrain_fixture.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;
using apps::train::Mix;
using apps::train::MixupConfig;
using test::RunResult;
using test::ScratchDir;

TEST(LayerDecay, ScalesFollowTheBlockDepth) {
  EXPECT_EQ(apps::train::vit_layer_id("cls_token", 12), 0);
  EXPECT_EQ(apps::train::vit_layer_id("patch_embed.proj.weight", 12), 0);
  EXPECT_EQ(apps::train::vit_layer_id("blocks.0.attn.q.weight", 12), 1);
  EXPECT_EQ(apps::train::vit_layer_id("blocks.11.mlp.fc2.bias", 12), 12);
  EXPECT_EQ(apps::train::vit_layer_id("fc_norm.weight", 12), 13);
  EXPECT_EQ(apps::train::vit_layer_id("head.weight", 12), 13);

  std::vector<nn::NamedParam> params;
  for (const char* n : {"pos_embed", "blocks.0.norm1.weight", "blocks.1.norm1.weight", "head.weight"})
    params.push_back({n, Var(Tensor::zeros({3}), true)});
  optim::AdamW opt(params, {});
  apps::train::apply_layer_decay(opt, 0.5, 2);
  std::map<std::string, float> got;
  for (auto& s : opt.slots()) got[s.param.name] = s.lr_scale;
  EXPECT_FLOAT_EQ(got["head.weight"], 1.0f);
  EXPECT_FLOAT_EQ(got["blocks.1.norm1.weight"], 0.5f);
  EXPECT_FLOAT_EQ(got["blocks.0.norm1.weight"], 0.25f);
  EXPECT_FLOAT_EQ(got["pos_embed"], 0.125f);
}

TEST(Mixup, BetaDrawsHaveTheBetaMoments) {
  Generator g(test::fresh_seed());
  auto u = [&] { return double(g.uniform()); };
  for (double a : {0.8, 1.0, 2.5}) {
    const int n = 40000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = apps::train::sample_beta(a, a, u);
      ASSERT_GT(x, 0.0);
      ASSERT_LT(x, 1.0);
      s += x, s2 += x * x;
    }
    const double mean = s / n, var = s2 / n - mean * mean, want_var = 1.0 / (4.0 * (2.0 * a + 1.0));
    EXPECT_NEAR(mean, 0.5, 0.01) << "alpha " << a;
    EXPECT_NEAR(var, want_var, 0.05 * want_var) << "alpha " << a;
  }
}

TEST(Mixup, DrawsAreKeyedAndCutmixLambdaIsTheUnpastedShare) {
  MixupConfig c;
  c.mixup_alpha = 0.8f, c.cutmix_alpha = 1.0f;
  int cutmixes = 0;
  for (uint64_t key = 0; key < 400; ++key) {
    const Mix a = apps::train::draw_mix(c, 7, key, 23, 17), b = apps::train::draw_mix(c, 7, key, 23, 17);
    EXPECT_EQ(a.lam, b.lam);
    EXPECT_EQ(a.cutmix, b.cutmix);
    ASSERT_GT(a.lam, 0.0f);
    ASSERT_LE(a.lam, 1.0f);
    if (a.cutmix) {
      ++cutmixes;
      ASSERT_TRUE(0 <= a.y0 && a.y0 <= a.y1 && a.y1 <= 23 && 0 <= a.x0 && a.x0 <= a.x1 && a.x1 <= 17);
      EXPECT_FLOAT_EQ(a.lam, float(1.0 - double((a.y1 - a.y0) * (a.x1 - a.x0)) / (23.0 * 17.0)));
    }
  }
  EXPECT_GT(cutmixes, 150);  // switch_prob 0.5 of 400
  EXPECT_LT(cutmixes, 250);
  EXPECT_NE(apps::train::draw_mix(c, 7, 1, 23, 17).lam, apps::train::draw_mix(c, 8, 1, 23, 17).lam);
  c.prob = 0.0f;
  EXPECT_EQ(apps::train::draw_mix(c, 7, 3, 23, 17).lam, 1.0f);
}

TEST(Mixup, ApplyMixesEachSampleWithItsMirror) {
  Generator g(test::fresh_seed());
  const int64_t B = 5, C = 3, H = 7, W = 6;
  Tensor x = Tensor::empty({B, C, H, W});
  g.normal_(x);
  auto at = [&](const Tensor& t, int64_t b, int64_t c, int64_t y, int64_t xx) {
    return t.data<float>()[((b * C + c) * H + y) * W + xx];
  };
  Mix m;
  m.lam = 0.3f;
  Tensor mixed = x.clone();
  apps::train::apply_mix(mixed, m);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < C * H * W; ++k) {
      const float own = x.data<float>()[b * C * H * W + k], other = x.data<float>()[(B - 1 - b) * C * H * W + k];
      EXPECT_FLOAT_EQ(mixed.data<float>()[b * C * H * W + k], own * 0.3f + other * 0.7f);
    }
  Mix cut;
  cut.lam = 0.5f, cut.cutmix = true, cut.y0 = 2, cut.y1 = 5, cut.x0 = 1, cut.x1 = 4;
  Tensor pasted = x.clone();
  apps::train::apply_mix(pasted, cut);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx) {
          const bool inside = y >= 2 && y < 5 && xx >= 1 && xx < 4;
          EXPECT_EQ(at(pasted, b, c, y, xx), at(x, inside ? B - 1 - b : b, c, y, xx));
        }
}

TEST(Mixup, LossEqualsSoftTargetCrossEntropy) {
  // timm's loss: sum_c -t_c log softmax(z)_c, t = lam smooth(y) + (1 - lam) smooth(y flipped), in float64.
  Generator g(test::fresh_seed());
  const int64_t B = 7, K = 5;
  const float smoothing = 0.1f, lam = 0.37f;
  Tensor z = Tensor::empty({B, K});
  g.normal_(z, 0.0f, 2.0f);
  Tensor y = Tensor::empty({B}, DType::i64);
  for (int64_t i = 0; i < B; ++i) y.data<int64_t>()[i] = int64_t(g.randint(K));
  Mix m;
  m.lam = lam;
  Var zv(z, true);
  Var loss = apps::train::mixed_cross_entropy(zv, y, m, smoothing);
  autograd::backward(loss);
  double want = 0;
  std::vector<double> want_grad(B * K);
  for (int64_t i = 0; i < B; ++i) {
    const float* r = z.data<float>() + i * K;
    double mx = r[0], s = 0;
    for (int64_t c = 1; c < K; ++c) mx = std::max(mx, double(r[c]));
    for (int64_t c = 0; c < K; ++c) s += std::exp(double(r[c]) - mx);
    for (int64_t c = 0; c < K; ++c) {
      const double off = smoothing / double(K), on = 1.0 - smoothing + off;
      const double t = lam * (c == y.data<int64_t>()[i] ? on : off) +
                       (1.0 - lam) * (c == y.data<int64_t>()[B - 1 - i] ? on : off);
      const double logp = double(r[c]) - mx - std::log(s);
      want -= t * logp / double(B);
      want_grad[i * K + c] = (std::exp(logp) - t) / double(B);
    }
  }
  EXPECT_NEAR(loss.value().item(), want, 1e-5 * std::max(1.0, std::abs(want)));
  for (int64_t k = 0; k < B * K; ++k) EXPECT_NEAR(zv.grad().data<float>()[k], want_grad[k], 1e-6) << k;
}

// The real binary on the pretrain tests' dataset, with a validation folder (the same images).
class Finetune : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("mapet_finetune_data_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    test::write_pretrain_fixture(*root_);
    fs::copy(*root_ / "data/train", *root_ / "data/val", fs::copy_options::recursive);
    // A short pre-training run whose weights the fine-tuning tests start from.
    RunResult r = test::run_mapet({"pretrain", (*root_ / "data").string(), "--tokens", (*root_ / "tokens.bin").string(),
                                   "--model", "mapet_tiny_patch16_224", "--img-size", "16", "--patch-size", "4",
                                   "--depth", "2", "--embed-dim", "32", "--num-heads", "2", "-b", "8", "--accum-steps",
                                   "2", "--warmup-epochs", "1", "--lr", "3e-3", "--epochs", "4", "--workers", "1",
                                   "--output", (*root_ / "pre").string(), "--quiet"},
                                  (*root_ / "pre.log").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }

  static std::vector<std::string> args(const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"finetune", (*root_ / "data").string(), "--model", "vit_standard_tiny_patch16_224",
                               "--img-size", "16", "--patch-size", "4", "--depth", "2", "--embed-dim", "32",
                               "--num-heads", "2", "-b", "8", "--accum-steps", "2", "--warmup-epochs", "1", "--lr",
                               "3e-3", "--epochs", "6", "--workers", "1", "--layer-decay", "0.75", "--color-jitter",
                               "0", "--scale", "1", "1", "--ratio", "1", "1", "--hflip", "0", "--output", out,
                               "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::string pretrained() { return (*root_ / "pre/model.safetensors").string(); }

  static fs::path* root_;
};

fs::path* Finetune::root_ = nullptr;

TEST_F(Finetune, FromPretrainingBeatsChanceAndTheRunFolderIsComplete) {
  ScratchDir dir;
  const std::string out = dir / "run";
  RunResult r = test::run_mapet(
      args(out, {"--pretrained", pretrained(), "--mixup", "0", "--cutmix", "0", "--epochs", "20", "--lr", "1e-2"}),
      dir / "log.txt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("loaded the backbone"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("initialised fresh: fc_norm.bias, fc_norm.weight, head.bias, head.weight"),
            std::string::npos)
      << r.output;
  for (const char* f : {"config.yaml", "metrics.jsonl", "loss.png", "loss.svg", "last.safetensors",
                        "model_best.safetensors", "model.safetensors", "results.json"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  const nlohmann::json res = nlohmann::json::parse(test::read_text(out + "/results.json"));
  std::printf("fine-tuned: best top-1 %.1f%% (chance 25%%)\n", res["best_top1"].get<double>());
  EXPECT_GE(res["best_top1"].get<double>(), 80.0) << r.output;
  EXPECT_EQ(test::step_records(out + "/metrics.jsonl").size(), 80u) << "64 / (8 x 2) = 4 steps x 20 epochs";
  // The best classifier validates to the accuracy the run logged.
  RunResult v = test::run_mapet({"validate", (*root_ / "data").string(), "--model", "vit_standard_tiny_patch16_224",
                                 "--checkpoint", out + "/model_best.safetensors", "--gp", "avg", "--img-size", "16",
                                 "--model-kwargs", "patch_size=4", "depth=2", "embed_dim=32", "num_heads=2",
                                 "-b", "8", "--results-file", dir / "val.json"},
                                dir / "val.log");
  ASSERT_EQ(v.exit_code, 0) << v.output;
  const nlohmann::json val = nlohmann::json::parse(test::read_text(dir / "val.json"));
  EXPECT_NEAR(val["top1"].get<double>(), res["best_top1"].get<double>(), 1e-3) << v.output;
}

TEST_F(Finetune, AcceptsATrainingCheckpointAndTrainsFromScratchWithMixup) {
  ScratchDir dir;
  RunResult ck = test::run_mapet(args(dir / "ck", {"--pretrained", (*root_ / "pre/last.safetensors").string(),
                                                   "--epochs", "1"}),
                                 dir / "ck.log");
  ASSERT_EQ(ck.exit_code, 0) << ck.output;
  EXPECT_NE(ck.output.find("a training checkpoint: using its model.* weights"), std::string::npos) << ck.output;
  RunResult scratch = test::run_mapet(args(dir / "scratch", {"--epochs", "2"}), dir / "scratch.log");
  ASSERT_EQ(scratch.exit_code, 0) << scratch.output;
  EXPECT_NE(scratch.output.find("from scratch"), std::string::npos) << scratch.output;
}

TEST_F(Finetune, BackboneOfAnotherShapeIsRefusedByName) {
  ScratchDir dir;
  RunResult deeper = test::run_mapet(args(dir / "a", {"--pretrained", pretrained(), "--depth", "3"}), dir / "a.log");
  EXPECT_EQ(deeper.exit_code, 1);
  EXPECT_NE(deeper.output.find("has no 'blocks.2."), std::string::npos) << deeper.output;
  RunResult wider = test::run_mapet(args(dir / "b", {"--pretrained", pretrained(), "--embed-dim", "48", "--num-heads",
                                                     "2"}),
                                    dir / "b.log");
  EXPECT_EQ(wider.exit_code, 1);
  EXPECT_NE(wider.output.find("cls_token"), std::string::npos) << wider.output;
  RunResult missing = test::run_mapet(args(dir / "c", {"--pretrained", dir / "nope.safetensors"}), dir / "c.log");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("nope.safetensors' does not exist"), std::string::npos) << missing.output;
}

TEST_F(Finetune, ResumeAfterKillGivesTheSameLossesAndAccuracy) {
  ScratchDir dir;
  const std::vector<std::string> extra{"--pretrained", pretrained(), "--recovery-interval", "3", "--epochs", "10"};
  RunResult ref = test::run_mapet(args(dir / "ref", extra), dir / "ref.log");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const std::vector<nlohmann::json> want = test::step_records(dir / "ref/metrics.jsonl");
  ASSERT_EQ(want.size(), 40u);

  const std::string out = dir / "run";
  ASSERT_EQ(test::run_and_kill(args(out, extra), out + "/metrics.jsonl", 10, dir / "killed.log"), "");
  ASSERT_LT(test::step_records(out + "/metrics.jsonl").size(), want.size()) << "killed too late to test anything";

  RunResult res = test::run_mapet({"finetune", "--resume", out}, dir / "resumed.log");
  ASSERT_EQ(res.exit_code, 0) << res.output;
  EXPECT_NE(res.output.find("resuming from"), std::string::npos) << res.output;
  const std::vector<nlohmann::json> got = test::step_records(out + "/metrics.jsonl");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    for (const char* key : {"step", "epoch", "loss", "lr", "grad_norm"})
      EXPECT_EQ(got[i][key], want[i][key]) << key << " of step " << i + 1;
  EXPECT_EQ(test::read_text(out + "/results.json"), test::read_text(dir / "ref/results.json"));
  EXPECT_EQ(test::read_text(out + "/model_best.safetensors"), test::read_text(dir / "ref/model_best.safetensors"));
}

}  // namespace
}  // namespace mapet

namespace mapet {
namespace {

TEST_F(Finetune, ConfigFilesLoadAndFlagsOverrideThem) {
  const fs::path configs = fs::path(MAPET_SOURCE_DIR) / "configs";
  for (const char* size : {"tiny", "small", "base"}) {
    ScratchDir dir;
    const std::string out = dir / "run", name = std::string("finetune_vit_") + size + "_patch16_224";
    // BEiT's recipe at 224 / 16, shrunk on the command line to the fixture's images and a tiny width.
    RunResult r = test::run_mapet({"finetune", (*root_ / "data").string(), "--config",
                                   (configs / (name + ".yaml")).string(), "--img-size", "16", "--patch-size", "4",
                                   "--depth", "1", "--embed-dim", "16", "--num-heads", "1", "-b", "8", "--total-batch",
                                   "16", "--epochs", "1", "--output", out, "-q"},
                                  dir / "log.txt");
    ASSERT_EQ(r.exit_code, 0) << name << ":\n" << r.output;
    const std::string used = test::read_text(out + "/config.yaml");
    for (const std::string& want :
         {std::string("model: vit_standard_") + size + "_patch16_224", std::string("lr: 4.0e-3"),
          std::string("layer_decay: 0.65"), std::string("mixup: 0.8"), std::string("cutmix: 1.0"),
          std::string("smoothing: 0.1"), std::string("warmup_epochs: 20"), std::string("accum_steps: 2"),
          std::string("gp: avg"), std::string("amp: true")})
      EXPECT_NE(used.find(want + "\n"), std::string::npos) << name << ": no '" << want << "' in\n" << used;
    EXPECT_EQ(test::step_records(out + "/metrics.jsonl").size(), 4u) << name;
  }
}

TEST_F(Finetune, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  ScratchDir dir;
  const std::string out = dir / "run";
  RunResult r = test::run_mapet(
      args(out, {"--lr", "1e30", "--warmup-epochs", "0", "--recovery-interval", "1", "--layer-decay", "1"}),
      dir / "log.txt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.output.find("loss is nan") != std::string::npos || r.output.find("loss is inf") != std::string::npos ||
              r.output.find("gradient norm is") != std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("The last good checkpoint, " + out + "/last.safetensors"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
}

}  // namespace
}  // namespace mapet
