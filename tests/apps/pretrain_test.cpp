// End-to-end tests of `mapet pretrain`: the real binary on a tiny generated
// dataset (tests/apps/pretrain_fixture.h) with a tiny model (16 px images,
// patch 4, depth 2, width 32): the loss falls, a run killed with SIGKILL and
// resumed gives bit for bit the losses of an uninterrupted run, a NaN loss
// stops the run and keeps the last good checkpoint, a truncated checkpoint is
// refused.
#include <algorithm>
#include <cstdio>

#include "apps/train/checkpoint.h"
#include "engine/io/safetensors.h"
#include "models/mapet.h"
#include "tests/apps/pretrain_fixture.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;
using test::RunResult;
using test::ScratchDir;

class Pretrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("mapet_pretrain_data_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    test::write_pretrain_fixture(*root_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }

  // A tiny model on the fixture; `extra` adds or overrides flags (CLI11 takes the last).
  static std::vector<std::string> args(const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"pretrain", (*root_ / "data").string(), "--tokens", (*root_ / "tokens.bin").string(),
                               "--model", "mapet_tiny_patch16_224", "--img-size", "16", "--patch-size", "4",
                               "--depth", "2", "--embed-dim", "32", "--num-heads", "2", "-b", "8", "--accum-steps", "2",
                               "--warmup-epochs", "1", "--lr", "3e-3", "--epochs", "8", "--workers", "1",
                               "--output", out, "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static fs::path* root_;
};

fs::path* Pretrain::root_ = nullptr;

double mean_loss(const std::vector<nlohmann::json>& r, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += r[i]["loss"].get<double>();
  return s / double(to - from);
}

TEST(PretrainFixture, TokensAreThePatchLevels) {
  // The fixture's premise: decoding an image gives flat patches at the levels its tokens name.
  ScratchDir dir;
  test::write_pretrain_fixture(dir.path);
  data::Dataset ds = data::load_image_folder(dir / "data/train");
  data::TokenStore store(dir / "tokens.bin");
  ASSERT_EQ(ds.size(), 64u);
  std::ifstream f(ds.full_path(37), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  data::Image img = data::decode_jpeg(bytes.data(), bytes.size(), ds.full_path(37));
  const uint16_t* row = store.row(37);
  for (int p = 0; p < 16; ++p)
    EXPECT_NEAR(img.at((p % 4) * 4 + 1, (p / 4) * 4 + 1, 0), 24 + 29 * row[p], 8) << "patch " << p;
}

TEST_F(Pretrain, LossFallsAndTheRunFolderIsComplete) {
  ScratchDir dir;
  const std::string out = dir / "run";
  RunResult r = test::run_mapet(args(out, {"--epochs", "10"}), dir / "log.txt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> steps = test::step_records(out + "/metrics.jsonl");
  ASSERT_EQ(steps.size(), 40u) << "64 images / (8 x 2) = 4 steps per epoch, 10 epochs";
  const double first = mean_loss(steps, 0, 4), final = mean_loss(steps, 36, 40);
  std::printf("loss: first epoch %.3f, last epoch %.3f (chance %.3f)\n", first, final, std::log(8.0));
  EXPECT_GT(first, 1.8);
  EXPECT_LT(final, 0.75 * first) << r.output;  // ~0.65 here; a few hundred steps take it below 0.4 nats
  for (const char* key : {"step", "epoch", "loss", "token_acc", "lr", "grad_norm", "images_per_s", "data_wait"})
    EXPECT_TRUE(steps.back().contains(key)) << key;
  EXPECT_GT(steps.back()["token_acc"].get<double>(), steps.front()["token_acc"].get<double>());

  for (const char* f :
       {"config.yaml", "metrics.jsonl", "loss.png", "loss.svg", "last.safetensors", "model.safetensors"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  EXPECT_NE(test::read_text(out + "/loss.svg").find("<polyline"), std::string::npos);
  const std::string config = test::read_text(out + "/config.yaml");
  EXPECT_NE(config.find("least_number: 4"), std::string::npos) << "50 of 197 tokens, scaled to 17:\n" << config;
  EXPECT_NE(config.find("total_batch: 16"), std::string::npos) << config;

  // model.safetensors: exactly the model's parameters, nothing else.
  models::MapetConfig mc = models::mapet_config("mapet_tiny_patch16_224");
  mc.vit.img_size = 16, mc.vit.patch_size = 4, mc.vit.depth = 2, mc.vit.embed_dim = 32, mc.vit.num_heads = 2;
  mc.least_number = 4, mc.vocab_size = 8;
  models::MapetModel model(mc);
  io::TensorMap saved = io::load_safetensors(out + "/model.safetensors");
  EXPECT_EQ(saved.size(), model.named_parameters().size());
  EXPECT_NO_THROW(io::load_into(model, saved, "model.safetensors"));
  for (const char* name : {"mask_positional_token", "decoder.weight", "blocks.1.ls2.gamma", "patch_embed.proj.weight"})
    EXPECT_EQ(saved.count(name), 1u) << name;
}

// Kill -9 once a mid-epoch checkpoint exists, resume, and compare every step's
// loss (and lr and gradient norm) with an uninterrupted run's, bit for bit.
TEST_F(Pretrain, ResumeAfterKillGivesTheSameLosses) {
  ScratchDir dir;
  // 40 steps, so the kill below has time to land before the end even on a busy machine.
  const std::vector<std::string> extra{"--recovery-interval", "3", "--epochs", "10", "--amp"};
  RunResult ref = test::run_mapet(args(dir / "ref", extra), dir / "ref.log");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const std::vector<nlohmann::json> want = test::step_records(dir / "ref/metrics.jsonl");
  ASSERT_EQ(want.size(), 40u);

  // Checkpoints are written after their step's metrics line and before the next
  // step's, so 8 lines mean the step-6 checkpoint (epoch 1, batch 4 of 8) is on disk.
  const std::string out = dir / "run";
  ASSERT_EQ(test::run_and_kill(args(out, extra), out + "/metrics.jsonl", 8, dir / "killed.log"), "");
  const size_t logged = test::step_records(out + "/metrics.jsonl").size();
  ASSERT_LT(logged, want.size()) << "killed too late to test anything";
  const int64_t at = apps::train::checkpoint_step(out + "/last.safetensors");
  std::printf("killed after %zu logged steps; resuming from the checkpoint of step %lld\n", logged, (long long)at);
  EXPECT_GE(at, 6);

  RunResult res = test::run_mapet({"pretrain", "--resume", out}, dir / "resumed.log");
  ASSERT_EQ(res.exit_code, 0) << res.output;
  EXPECT_NE(res.output.find("resuming from"), std::string::npos) << res.output;
  EXPECT_EQ(res.output.find("setting changed"), std::string::npos) << res.output;
  const std::vector<nlohmann::json> got = test::step_records(out + "/metrics.jsonl");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    for (const char* key : {"step", "epoch", "loss", "token_acc", "lr", "grad_norm"})
      EXPECT_EQ(got[i][key], want[i][key]) << key << " of step " << i + 1;
  EXPECT_EQ(test::read_text(out + "/model.safetensors"), test::read_text(dir / "ref/model.safetensors"))
      << "final weights differ";
}

// A run stopped before its first epoch ends still leaves a checkpoint to
// resume from: by default one every --recovery-minutes (5) of training.
TEST_F(Pretrain, RecoveryMinutesCheckpointInsideAnEpoch) {
  ScratchDir dir;
  const std::string out = dir / "run";
  // 4 steps per epoch; a recovery point after every step (any time passed is enough).
  ASSERT_EQ(test::run_and_kill(args(out, {"--epochs", "10", "--recovery-minutes", "1e-9"}), out + "/metrics.jsonl", 3,
                               dir / "killed.log"),
            "");
  ASSERT_TRUE(fs::exists(out + "/last.safetensors")) << "nothing to resume from";
  const int64_t at = apps::train::checkpoint_step(out + "/last.safetensors");
  EXPECT_GE(at, 2);
  EXPECT_LT(at, 4) << "only the epoch's end was checkpointed";
  EXPECT_NE(test::read_text(out + "/config.yaml").find("recovery_minutes: 1e-9"), std::string::npos);

}

// The README's one-epoch trial of a config with a long warm-up: said at the start;
// the first step is logged at once; the default recovery interval is a few minutes.
TEST_F(Pretrain, ShortRunSaysTheWarmupIsLongerAndLogsItsFirstStep) {
  ScratchDir dir;
  std::vector<std::string> a = args(dir / "run", {"--epochs", "1", "--warmup-epochs", "10", "--log-interval", "20"});
  a.erase(std::find(a.begin(), a.end(), "--quiet"));
  RunResult r = test::run_mapet(a, dir / "log.txt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: --warmup-epochs 10 is longer than the run (--epochs 1)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("step 1/4 |"), std::string::npos) << r.output;
  EXPECT_NE(test::read_text(dir / "run/config.yaml").find("recovery_minutes: 5"), std::string::npos);
}

TEST_F(Pretrain, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  ScratchDir dir;
  const std::string out = dir / "run";
  // An absurd lr: the first updates throw the weights far enough for the loss to overflow.
  RunResult r = test::run_mapet(args(out, {"--lr", "1e30", "--warmup-epochs", "0", "--recovery-interval", "1"}),
                                dir / "log.txt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.output.find("loss is nan") != std::string::npos || r.output.find("loss is inf") != std::string::npos ||
              r.output.find("gradient norm is") != std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("The last good checkpoint, " + out + "/last.safetensors, is from step"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
  // The checkpoint loads and its weights are finite.
  ASSERT_TRUE(fs::exists(out + "/last.safetensors"));
  io::TensorMap ck = io::load_safetensors(out + "/last.safetensors");
  for (const auto& [name, t] : ck)
    for (float v : t.to_vector()) ASSERT_TRUE(std::isfinite(v)) << name;
}

TEST_F(Pretrain, TruncatedCheckpointIsRefused) {
  ScratchDir dir;
  const std::string out = dir / "run";
  RunResult r = test::run_mapet(args(out, {"--epochs", "1"}), dir / "log.txt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string ck = out + "/last.safetensors";
  fs::resize_file(ck, fs::file_size(ck) * 2 / 3);  // what a full disk or a copy cut short leaves
  RunResult res = test::run_mapet({"pretrain", "--resume", out, "--epochs", "2"}, dir / "resume.log");
  EXPECT_EQ(res.exit_code, 1) << res.output;
  EXPECT_NE(res.output.find(ck), std::string::npos) << res.output;
  EXPECT_NE(res.output.find("truncated"), std::string::npos) << res.output;
}

// Issue #17: --resume DIR/last.safetensors took `output:` from DIR/config.yaml and wrote wherever it said.
TEST_F(Pretrain, ResumingACheckpointFileStaysInItsFolder) {
  ScratchDir dir;
  const std::string out = dir / "run", elsewhere = dir / "elsewhere";
  ASSERT_EQ(test::run_mapet(args(out, {"--epochs", "1"}), dir / "a.log").exit_code, 0);
  std::string config = test::read_text(out + "/config.yaml");
  const size_t at = config.find("output: ");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, config.find('\n', at) - at, "output: " + elsewhere);
  std::ofstream(out + "/config.yaml") << config;
  RunResult r = test::run_mapet({"pretrain", "--resume", out + "/last.safetensors", "--epochs", "2"}, dir / "b.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(elsewhere)) << r.output;
  EXPECT_EQ(test::step_records(out + "/metrics.jsonl").size(), 8u);
}

// Issue #17, item 4: simultaneous runs into one folder garbled metrics.jsonl. Now the second fails at once,
// naming the folder and the first run's pid; once the first is killed (kill -9), --resume is not blocked.
TEST_F(Pretrain, OneRunPerOutputFolder) {
  ScratchDir dir;
  const std::string out = dir / "run";
  const pid_t first = test::spawn_mapet(args(out, {"--epochs", "50", "--recovery-interval", "1"}), dir / "first.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (test::step_records(out + "/metrics.jsonl").size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (const std::vector<std::string>& second :
       {args(out, {"--epochs", "1"}), std::vector<std::string>{"pretrain", "--resume", out}}) {
    RunResult r = test::run_mapet(second, dir / "second.log");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--output '" + out + "' is in use by another run (pid " + std::to_string(first) + ")"),
              std::string::npos)
        << r.output;
  }
  ::kill(first, SIGKILL);
  int status = 0;
  ::waitpid(first, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the first run ended before the test was done:\n" << test::read_text(dir / "first.log");
  RunResult resumed = test::run_mapet({"pretrain", "--resume", out, "--epochs", "1"}, dir / "resumed.log");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(test::temp_file_in(out), "");
}

// Issue #17 item 5: a damaged last checkpoint is refused, and --resume continues from the previous one,
// which every save keeps; the run still ends bit-identical to the undamaged one.
TEST_F(Pretrain, DamagedLastCheckpointFallsBackToThePreviousOne) {
  ScratchDir dir;
  const std::string out = dir / "run", last = out + "/last.safetensors", previous = out + "/previous.safetensors";
  ASSERT_EQ(test::run_mapet(args(out, {"--epochs", "2"}), dir / "a.log").exit_code, 0);
  const std::string want = test::read_text(out + "/model.safetensors");
  ASSERT_TRUE(fs::exists(previous));
  EXPECT_EQ(apps::train::checkpoint_step(previous), 4);
  EXPECT_EQ(apps::train::checkpoint_step(last), 8);
  auto damage = [](const std::string& path) {
    std::string bytes = test::read_text(path);
    bytes[bytes.size() / 2] ^= 0x01;
    std::ofstream(path, std::ios::binary) << bytes;
  };
  damage(last);
  RunResult r = test::run_mapet({"pretrain", "--resume", out}, dir / "b.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("checkpoint '" + last + "' is damaged"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resuming from the previous checkpoint, " + previous), std::string::npos) << r.output;
  EXPECT_EQ(test::read_text(out + "/model.safetensors"), want) << "the resumed run ended elsewhere";
  EXPECT_EQ(test::step_records(out + "/metrics.jsonl").size(), 8u);

  damage(last), damage(previous);
  r = test::run_mapet({"pretrain", "--resume", out}, dir / "c.log");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(last), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(previous), std::string::npos) << r.output;
}

TEST_F(Pretrain, FreshRunRefusesAFolderHoldingARun) {
  ScratchDir dir;
  const std::string out = dir / "run";
  ASSERT_EQ(test::run_mapet(args(out, {"--epochs", "1"}), dir / "a.log").exit_code, 0);
  RunResult again = test::run_mapet(args(out, {"--epochs", "1"}), dir / "b.log");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find("already holds a run"), std::string::npos) << again.output;
}

// Issue #17: `depth: 0` silently meant the model's depth, `lr: -1` trained, `workers: 100000` started the threads.
TEST_F(Pretrain, SettingsNoRunCanUseAreRefusedNamingTheKey) {
  ScratchDir dir;
  for (const auto& [yaml, words] : std::vector<std::pair<std::string, std::string>>{
           {"depth: 0\n", "--depth must be at least 1"},
           {"lr: -1\n", "--lr must be a number >= 0"},
           {"workers: 100000\n", "--workers 100000"}}) {
    std::ofstream(dir / "c.yaml") << yaml;
    std::vector<std::string> a = args(dir / "run");
    for (const char* flag : {"--depth", "--lr", "--workers"}) {  // let the config file speak
      auto it = std::find(a.begin(), a.end(), flag);
      a.erase(it, it + 2);
    }
    a.insert(a.end(), {"--config", dir / "c.yaml"});
    RunResult r = test::run_mapet(a, dir / "log.txt");
    EXPECT_EQ(r.exit_code, 1) << yaml << r.output;
    EXPECT_NE(r.output.find(words), std::string::npos) << yaml << r.output;
  }
  // Unset shape flags are written as null (the model's value), not as 0.
  RunResult r = test::run_mapet(args(dir / "ok", {"--epochs", "1"}), dir / "ok.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(test::read_text(dir / "ok/config.yaml").find("depth: 2\n"), std::string::npos);
}

TEST_F(Pretrain, ConfigFilesLoadAndFlagsOverrideThem) {
  const fs::path configs = fs::path(MAPET_SOURCE_DIR) / "configs";
  for (const char* name : {"mapet_tiny_patch16_224", "mapet_small_patch16_224", "mapet_base_patch16_224"}) {
    ScratchDir dir;
    const std::string out = dir / "run";
    // The official geometry (224 / 16, L = 50) shrunk on the command line to the fixture's.
    RunResult r = test::run_mapet({"pretrain", (*root_ / "data").string(), "--tokens", (*root_ / "tokens.bin").string(),
                                   "--config", (configs / (std::string(name) + ".yaml")).string(), "--img-size", "16",
                                   "--patch-size", "4", "--least-number", "4", "--depth", "1", "--embed-dim", "16",
                                   "--num-heads", "1", "-b", "8", "--total-batch", "16", "--epochs", "1", "--output",
                                   out, "-q"},
                                  dir / "log.txt");
    ASSERT_EQ(r.exit_code, 0) << name << ":\n" << r.output;
    const std::string used = test::read_text(out + "/config.yaml");
    for (const std::string& want : {std::string("model: ") + name, std::string("lr: 1.5e-3"), std::string("epochs: 1"),
                                    std::string("total_batch: 16"), std::string("accum_steps: 2"),
                                    std::string("num_tokens: 8192"), std::string("color_jitter: [0.4]"),
                                    std::string("warmup_epochs: 10"), std::string("amp: true")})
      EXPECT_NE(used.find(want + "\n"), std::string::npos) << name << ": no '" << want << "' in\n" << used;
    EXPECT_EQ(test::step_records(out + "/metrics.jsonl").size(), 4u) << name;
  }
}

TEST_F(Pretrain, PetAndMimObjectivesTrain) {
  for (const char* objective : {"pet", "mim"}) {
    ScratchDir dir;
    const std::string out = dir / objective;
    RunResult r = test::run_mapet(args(out, {"--objective", objective, "--epochs", "3"}), dir / "log.txt");
    ASSERT_EQ(r.exit_code, 0) << objective << ":\n" << r.output;
    std::vector<nlohmann::json> steps = test::step_records(out + "/metrics.jsonl");
    ASSERT_EQ(steps.size(), 12u);
    EXPECT_LT(mean_loss(steps, 8, 12), mean_loss(steps, 0, 4)) << objective;
    io::TensorMap w = io::load_safetensors(out + "/model.safetensors");
    EXPECT_EQ(w.count("mask_token"), std::string(objective) == "mim" ? 1u : 0u) << objective;
  }
  ScratchDir dir;
  EXPECT_NE(test::read_text((test::run_mapet(args(dir / "x", {"--objective", "mim", "--epochs", "1"}), dir / "l"),
                             dir / "x/config.yaml"))
                .find("num_mask_patches: 6\n"),
            std::string::npos)
      << "75 of 196 patches, scaled to 16";
}

}  // namespace
}  // namespace mapet
