// `mpirun -np 2 mapet pretrain / finetune / validate` end to end on the
// pretrain tests' tiny dataset (tests/apps/pretrain_fixture.h): 2 ranks at
// batch B/2 match 1 process at batch B; a rank killed with SIGKILL or stopped
// ends the job with a message instead of a hang, and --resume continues
// exactly; a checkpoint of 1 rank resumes on 2; validation counts every image
// once on an odd-sized set.
//
// Tolerance against the 1-process run (see tests/distributed/data_parallel_test.cpp
// for why it is not zero): losses and gradient norms to 1e-5 / 1e-4 relative,
// parameters to 2e-5 + 1e-4 relative. Against another 2-rank run it is zero.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/io/safetensors.h"
#include "tests/distributed/mpi_run.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;
using test::RunResult;
using test::ScratchDir;

class MpiApps : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    root_ = new fs::path(fs::temp_directory_path() / ("mapet_mpi_data_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    test::write_pretrain_fixture(*root_);
    // A validation folder of 63 images: 2 ranks get 32 and 31.
    fs::copy(*root_ / "data/train", *root_ / "data/val", fs::copy_options::recursive);
    fs::remove(*root_ / "data/val/c2/5.jpg");
  }
  static void TearDownTestSuite() {
    if (!std::getenv("MAPET_KEEP_TEST_DIRS")) fs::remove_all(*root_);
    delete root_;
  }

  // The pretrain tests' tiny model without drop path (its draws are per rank).
  static std::vector<std::string> pretrain(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a{"pretrain", (*root_ / "data").string(), "--tokens", (*root_ / "tokens.bin").string(),
                               "--model", "mapet_tiny_patch16_224", "--img-size", "16", "--patch-size", "4",
                               "--depth", "2", "--embed-dim", "32", "--num-heads", "2", "--drop-path", "0",
                               "--warmup-epochs", "1", "--lr", "3e-3", "--clip-grad", "1", "--workers", "1",
                               "--output", out, "--log-interval", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::vector<std::string> finetune(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a{"finetune", (*root_ / "data").string(), "--model", "vit_standard_tiny_patch16_224",
                               "--img-size", "16", "--patch-size", "4", "--depth", "2", "--embed-dim", "32",
                               "--num-heads", "2", "--drop-path", "0", "--mixup", "0", "--cutmix", "0",
                               "--warmup-epochs", "1", "--lr", "3e-3", "--epochs", "2", "--workers", "1",
                               "--output", out, "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::vector<std::string> validate(const std::string& checkpoint, const std::string& results) {
    return {"validate", (*root_ / "data").string(), "--split", "val", "--model", "vit_standard_tiny_patch16_224",
            "--checkpoint", checkpoint, "--gp", "avg", "--img-size", "16", "--model-kwargs", "patch_size=4",
            "depth=2", "embed_dim=32", "num_heads=2", "-b", "8", "--results-file", results};
  }

  static fs::path* root_;
};

fs::path* MpiApps::root_ = nullptr;

void expect_steps_close(const std::vector<nlohmann::json>& got, const std::vector<nlohmann::json>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double l = want[i]["loss"].get<double>(), n = want[i]["grad_norm"].get<double>();
    EXPECT_NEAR(got[i]["loss"].get<double>(), l, 1e-5 * std::abs(l)) << "step " << i + 1;
    EXPECT_NEAR(got[i]["grad_norm"].get<double>(), n, 1e-4 * n) << "step " << i + 1;
    EXPECT_EQ(got[i]["lr"], want[i]["lr"]) << "step " << i + 1;
  }
}

void expect_steps_equal(const std::vector<nlohmann::json>& got, const std::vector<nlohmann::json>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    for (const char* k : {"loss", "grad_norm", "lr", "token_acc"})
      EXPECT_EQ(got[i][k], want[i][k]) << k << " at step " << i + 1;
}

void expect_weights_close(const std::string& got_file, const std::string& want_file) {
  const io::TensorMap got = io::load_safetensors(got_file), want = io::load_safetensors(want_file);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (const auto& [name, w] : want) {
    const std::vector<float> a = got.at(name).to_vector(), b = w.to_vector();
    for (size_t j = 0; j < b.size(); ++j) {
      const double d = std::abs(double(a[j]) - double(b[j]));
      worst = std::max(worst, d);
      ASSERT_LE(d, 2e-5 + 1e-4 * std::abs(double(b[j]))) << name << "[" << j << "]";
    }
  }
  std::printf("largest parameter difference, 2 ranks against 1 process: %.3g\n", worst);
}

TEST_F(MpiApps, PretrainOnTwoRanksMatchesOneProcess) {
  // 60 of 64 images in 3 steps of 20: one process at -b 20; 2 ranks at -b 10; 2 ranks at -b 5 x 2 accumulation.
  ScratchDir dir;
  RunResult one = test::run_program(test::plain_mapet(pretrain(dir / "one", {"-b", "20", "--total-batch", "20",
                                                                             "--epochs", "1"})),
                                    dir / "one.log");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = test::run_program(test::mpirun_mapet(2, pretrain(dir / "two", {"-b", "10", "--total-batch", "20",
                                                                                 "--epochs", "1"})),
                                    dir / "two.log");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  RunResult acc = test::run_program(test::mpirun_mapet(2, pretrain(dir / "acc", {"-b", "5", "--total-batch", "20",
                                                                                 "--epochs", "1"})),
                                    dir / "acc.log");
  ASSERT_EQ(acc.exit_code, 0) << acc.output;

  const auto want = test::step_records(dir / "one/metrics.jsonl");
  ASSERT_EQ(want.size(), 3u);
  expect_steps_close(test::step_records(dir / "two/metrics.jsonl"), want);
  expect_steps_close(test::step_records(dir / "acc/metrics.jsonl"), want);
  expect_weights_close(dir / "two/model.safetensors", dir / "one/model.safetensors");
  expect_weights_close(dir / "acc/model.safetensors", dir / "one/model.safetensors");

  // Rank 0 alone prints: one header, progress lines naming the world size; the config names it too.
  EXPECT_EQ(two.output.find("data: "), two.output.rfind("data: ")) << two.output;
  EXPECT_NE(two.output.find("steps/epoch of 10 x 1 images x 2 ranks"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("img/s on 2 ranks"), std::string::npos) << two.output;
  EXPECT_NE(test::read_text(dir / "two/config.yaml").find("on 2 ranks (mpi)"), std::string::npos);
  EXPECT_TRUE(test::step_records(dir / "two/metrics.jsonl").back().contains("comm_wait"));
}

TEST_F(MpiApps, KilledRankEndsTheJobAndResumeIsExact) {
  ScratchDir dir;
  // 16 steps of 2 x 8; a checkpoint every 2 steps.
  const std::vector<std::string> extra{"-b", "8", "--total-batch", "16", "--epochs", "4", "--recovery-interval", "2"};
  RunResult ref = test::run_program(test::mpirun_mapet(2, pretrain(dir / "ref", extra)), dir / "ref.log");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const auto want = test::step_records(dir / "ref/metrics.jsonl");
  ASSERT_EQ(want.size(), 16u);

  const std::string out = dir / "run";
  // mpirun ends the job when a rank dies; the collective deadline (short here) is the bound where it would not.
  ::setenv("MAPET_COLLECTIVE_TIMEOUT", "20", 1);
  test::Signalled s =
      test::run_and_signal(test::mpirun_mapet(2, pretrain(out, extra)), dir / "killed.log", out + "/metrics.jsonl", 5,
                           1, SIGKILL);
  ::unsetenv("MAPET_COLLECTIVE_TIMEOUT");
  ASSERT_NE(s.mpirun, 0) << "the run ended before rank 1 could be killed:\n" << test::read_text(dir / "killed.log");
  ASSERT_NE(s.rank, 0) << "rank 1 not found among mpirun's children";
  const auto t0 = std::chrono::steady_clock::now();
  const int code = test::wait_for(s.mpirun, 60);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string log = test::read_text(dir / "killed.log");
  ASSERT_NE(code, -2) << "the job hung after rank 1 was killed:\n" << log;
  EXPECT_NE(code, 0) << log;
  std::printf("the job ended %.1f s after rank 1 was killed; it said:\n%s\n", secs,
              log.substr(std::min(log.size(), log.rfind("step "))).c_str());
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;

  RunResult resumed = test::run_program(test::mpirun_mapet(2, pretrain(out, {"--resume", out})), dir / "resumed.log");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from"), std::string::npos) << resumed.output;
  expect_steps_equal(test::step_records(out + "/metrics.jsonl"), want);
}

TEST_F(MpiApps, StoppedRankTimesOutWithAMessage) {
  ScratchDir dir;
  ::setenv("MAPET_COLLECTIVE_TIMEOUT", "3", 1);
  const std::string out = dir / "run";
  test::Signalled s = test::run_and_signal(
      test::mpirun_mapet(2, pretrain(out, {"-b", "8", "--total-batch", "16", "--epochs", "8"})), dir / "log.txt",
      out + "/metrics.jsonl", 3, 1, SIGSTOP);
  ::unsetenv("MAPET_COLLECTIVE_TIMEOUT");
  ASSERT_NE(s.mpirun, 0) << test::read_text(dir / "log.txt");
  ASSERT_NE(s.rank, 0);
  const int code = test::wait_for(s.mpirun, 90);
  ::kill(s.rank, SIGKILL);  // in case the launcher left it stopped
  const std::string log = test::read_text(dir / "log.txt");
  ASSERT_NE(code, -2) << "the job hung on the stopped rank:\n" << log;
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("mapet: error (rank 0 of 2):"), std::string::npos) << log;
  EXPECT_NE(log.find("did not complete within 3 s"), std::string::npos) << log;
}

TEST_F(MpiApps, OneProcessCheckpointResumesOnTwoRanks) {
  ScratchDir dir;
  // 8 steps of 16 in one process; killed after its step-3 checkpoint; the rest on 2 ranks of 8.
  const std::vector<std::string> extra{"-b", "16", "--total-batch", "16", "--epochs", "2", "--recovery-interval", "3"};
  RunResult ref = test::run_program(test::plain_mapet(pretrain(dir / "ref", extra)), dir / "ref.log");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const auto want = test::step_records(dir / "ref/metrics.jsonl");
  ASSERT_EQ(want.size(), 8u);
  const std::string out = dir / "run";
  ASSERT_EQ(test::run_and_kill(pretrain(out, extra), out + "/metrics.jsonl", 4, dir / "killed.log"), "");
  RunResult resumed =
      test::run_program(test::mpirun_mapet(2, pretrain(out, {"--resume", out, "-b", "8"})), dir / "resumed.log");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("is from a run on 1 rank(s), this one has 2"), std::string::npos) << resumed.output;
  const auto got = test::step_records(out + "/metrics.jsonl");
  expect_steps_equal(std::vector<nlohmann::json>(got.begin(), got.begin() + 3),
                     std::vector<nlohmann::json>(want.begin(), want.begin() + 3));
  expect_steps_close(got, want);
}

TEST_F(MpiApps, TwoRankCheckpointResumesInOneProcessWithAccumulation) {
  ScratchDir dir;
  // 16 steps of 8 images (8 per epoch): on 2 ranks of 4, rank 0 killed after step 4, so after the step-3 recovery
  // checkpoint (batch 3 of the epoch per rank) and before the next (step 6); the rest in one process at -b 4,
  // 2 micro-batches per step: batch 6 of the epoch, the same optimizer step and the same images next.
  const std::vector<std::string> extra{"-b", "4", "--total-batch", "8", "--epochs", "2", "--recovery-interval", "3"};
  RunResult ref = test::run_program(test::plain_mapet(pretrain(dir / "ref", {"-b", "8", "--total-batch", "8",
                                                                             "--epochs", "2"})),
                                    dir / "ref.log");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const auto want = test::step_records(dir / "ref/metrics.jsonl");
  ASSERT_EQ(want.size(), 16u);
  const std::string out = dir / "run";
  test::Signalled s = test::run_and_signal(test::mpirun_mapet(2, pretrain(out, extra)), dir / "killed.log",
                                           out + "/metrics.jsonl", 4, 0, SIGKILL);
  ASSERT_NE(s.mpirun, 0) << "the run ended before it could be killed:\n" << test::read_text(dir / "killed.log");
  ASSERT_NE(test::wait_for(s.mpirun, 60), -2) << test::read_text(dir / "killed.log");
  RunResult resumed = test::run_program(test::plain_mapet(pretrain(out, {"--resume", out})), dir / "resumed.log");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("is from a run on 2 rank(s), this one has 1: it continues at optimizer step 3 of "
                                "epoch 1"),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("steps/epoch of 4 x 2 images"), std::string::npos) << resumed.output;
  expect_steps_close(test::step_records(out + "/metrics.jsonl"), want);
}

TEST_F(MpiApps, FinetuneAndValidateOnTwoRanksCountEveryImageOnce) {
  ScratchDir dir;
  RunResult one = test::run_program(test::plain_mapet(finetune(dir / "one", {"-b", "16", "--total-batch", "16"})),
                                    dir / "one.log");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = test::run_program(test::mpirun_mapet(2, finetune(dir / "two", {"-b", "8", "--total-batch", "16"})),
                                    dir / "two.log");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  expect_steps_close(test::step_records(dir / "two/metrics.jsonl"), test::step_records(dir / "one/metrics.jsonl"));
  for (const char* f : {"model_best.safetensors", "model.safetensors", "results.json"})
    EXPECT_TRUE(fs::exists(dir / "two/" + f)) << f;

  // The same checkpoint validated by 1 process and by 2 ranks (63 images: shards of 32 and 31).
  const std::string ck = dir / "one/model.safetensors";
  RunResult v1 = test::run_program(test::plain_mapet(validate(ck, dir / "v1.json")), dir / "v1.log");
  ASSERT_EQ(v1.exit_code, 0) << v1.output;
  RunResult v2 = test::run_program(test::mpirun_mapet(2, validate(ck, dir / "v2.json")), dir / "v2.log");
  ASSERT_EQ(v2.exit_code, 0) << v2.output;
  EXPECT_NE(v2.output.find("| 63 images in"), std::string::npos) << v2.output;
  const nlohmann::json r1 = nlohmann::json::parse(test::read_text(dir / "v1.json"));
  const nlohmann::json r2 = nlohmann::json::parse(test::read_text(dir / "v2.json"));
  EXPECT_EQ(r2["top1"], r1["top1"]);
  EXPECT_EQ(r2["top5"], r1["top5"]);
  // The epoch's validation in the 2-rank fine-tuning counted the 63 images too: its top-1 is a multiple of 100 / 63.
  const double top1 = nlohmann::json::parse(test::read_text(dir / "two/results.json"))["final_top1"].get<double>();
  EXPECT_NEAR(std::round(top1 * 63 / 100), top1 * 63 / 100, 1e-6) << top1;
}

}  // namespace
}  // namespace mapet
