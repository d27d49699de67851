// The training infrastructure under `mapet pretrain` (apps/train/), in process:
// YAML config <-> flags, checkpoints, metrics.jsonl, curves, the accumulating step.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include "apps/train/checkpoint.h"
#include "apps/train/config.h"
#include "apps/train/folder_lock.h"
#include "apps/train/meter.h"
#include "apps/train/metrics.h"
#include "apps/train/plot.h"
#include "apps/train/train_flags.h"
#include "apps/train/trainer.h"
#include "engine/io/safetensors.h"
#include "engine/ops/cross_entropy.h"
#include "models/vit.h"
#include "tests/apps/pretrain_fixture.h"
#include "tests/test_util.h"

namespace mapet::apps::train {
namespace {

namespace fs = std::filesystem;
using test::ScratchDir;

// ---- config -------------------------------------------------------------------

struct Flags {
  CLI::App app{"t"};
  CLI::App* cmd;
  std::string data, model = "m";
  float lr = 1e-3f, smoothing = 0.0f;
  int batch_size = 64;
  int64_t accum_steps = 1;
  std::vector<double> scale{0.08, 1.0};
  std::vector<float> jitter;
  bool amp = false, dct = true;

  Flags() {
    cmd = app.add_subcommand("pretrain");
    cmd->option_defaults()->always_capture_default();
    cmd->add_option("data_dir", data);
    cmd->add_option("--model", model);
    cmd->add_option("--lr", lr);
    cmd->add_option("--smoothing", smoothing);  // a key the timm policy ignores, but an option here
    cmd->add_option("-b,--batch-size", batch_size);
    cmd->add_option("--accum-steps", accum_steps);
    cmd->add_option("--scale", scale)->expected(2);
    cmd->add_option("--color-jitter", jitter)->expected(1, 3);
    cmd->add_flag("--amp", amp);
    cmd->add_flag("!--no-dct-scaling", dct);
  }
  void parse(std::vector<std::string> args) {
    args.insert(args.begin(), "pretrain");
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    app.parse(args);
  }
};

std::string write_yaml(const ScratchDir& dir, const std::string& text) {
  const std::string path = dir / "c.yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(TrainConfig, YamlGivesDefaultsAndTheCommandLineWins) {
  ScratchDir dir;
  Flags f;
  f.parse({"--lr", "0.5"});
  apply_yaml_config(*f.cmd, write_yaml(dir,
                                       "data_dir: /data/in\nlr: 0.1\nbatch_size: 7\nscale: [1.0, 1.0]\n"
                                       "color_jitter: 0.4\namp: true\nno_dct_scaling: yes\nmodel: ~\n"));
  EXPECT_EQ(f.lr, 0.5f);  // the flag
  EXPECT_EQ(f.batch_size, 7);
  EXPECT_EQ(f.data, "/data/in");
  EXPECT_EQ(f.scale, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(f.jitter, (std::vector<float>{0.4f}));
  EXPECT_TRUE(f.amp);
  EXPECT_FALSE(f.dct);      // no_dct_scaling: yes turns it off
  EXPECT_EQ(f.model, "m");  // null: the default
}

TEST(TrainConfig, WrittenConfigLoadsBackToTheSameSettings) {
  ScratchDir dir;
  Flags a;
  a.parse({"/x", "--lr", "2.5e-4", "--scale", "0.5", "1", "--no-dct-scaling", "--amp", "-b", "3"});
  const std::string text = config_yaml(*a.cmd);
  EXPECT_NE(text.find("batch_size: 3"), std::string::npos) << text;
  EXPECT_NE(text.find("accum_steps: 1"), std::string::npos) << "defaults are written too:\n" << text;
  Flags b;
  b.parse({});
  apply_yaml_config(*b.cmd, write_yaml(dir, text));
  EXPECT_EQ(b.data, "/x");
  EXPECT_EQ(b.lr, 2.5e-4f);
  EXPECT_EQ(b.batch_size, 3);
  EXPECT_EQ(b.scale, (std::vector<double>{0.5, 1.0}));
  EXPECT_TRUE(b.jitter.empty());
  EXPECT_TRUE(b.amp);
  EXPECT_FALSE(b.dct);
  EXPECT_EQ(config_yaml(*b.cmd), text);
  EXPECT_TRUE(config_differences(text, config_yaml(*b.cmd)).empty());

  set_option(*b.cmd, "lr", {"0.25"});
  EXPECT_EQ(b.lr, 0.25f);
  std::vector<std::string> d = config_differences(text, config_yaml(*b.cmd));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "lr: 2.5e-4 -> 0.25");
}

// The message of the Error that apply_yaml_config throws for `text` ("" when none).
std::string yaml_error(const std::string& text) {
  ScratchDir dir;
  Flags f;
  f.parse({});
  try {
    apply_yaml_config(*f.cmd, write_yaml(dir, text), timm_policy(), /*quiet=*/true);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TrainConfig, UnknownKeysAreErrorsNamingKeyAndFile) {
  std::string e = yaml_error("batch_sise: 8\n");
  EXPECT_NE(e.find("'batch_sise'"), std::string::npos) << e;
  EXPECT_NE(e.find("c.yaml"), std::string::npos) << e;
  EXPECT_NE(yaml_error("help: true\n"), "");
}

TEST(TrainConfig, TimmKeysThatChangeNothingAreSkippedWithAWarning) {
  ScratchDir dir;
  Flags f;
  f.parse({});
  ::testing::internal::CaptureStderr();
  apply_yaml_config(*f.cmd, write_yaml(dir, "pin_mem: true\nlog_wandb: false\nsmoothing: 0.1\ngrad_accum_steps: 4\n"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("'pin_mem' ignored"), std::string::npos) << err;
  EXPECT_EQ(f.accum_steps, 4) << "grad_accum_steps is timm's name for accum_steps";
  EXPECT_EQ(f.smoothing, 0.1f) << "a command's own option wins over the policy's list";
  EXPECT_EQ(err.find("smoothing"), std::string::npos) << err;
}

TEST(TrainConfig, ChoicesWeDoNotImplementMustHaveOurValue) {
  EXPECT_EQ(yaml_error("opt: AdamW\nsched: cosine\nmixup: 0.0\naa: null\n"), "");
  std::string e = yaml_error("opt: sgd\n");
  EXPECT_NE(e.find("'opt' is 'sgd'"), std::string::npos) << e;
  EXPECT_NE(e.find("'adamw'"), std::string::npos) << e;
  EXPECT_NE(yaml_error("mixup: 0.8\n"), "");
}

TEST(TrainConfig, BadValuesNameTheKey) {
  EXPECT_NE(yaml_error("lr: fast\n").find("key 'lr'"), std::string::npos);
  EXPECT_NE(yaml_error("scale: 1.0\n").find("takes 2 value(s), got 1"), std::string::npos);
  EXPECT_NE(yaml_error("amp: maybe\n").find("expected true or false"), std::string::npos);
  EXPECT_NE(yaml_error("lr: [1, 2]\n").find("takes 1 value(s), got 2"), std::string::npos);
  EXPECT_NE(yaml_error("- a\n- b\n").find("mapping"), std::string::npos);
  EXPECT_NE(yaml_error("lr: [1\n").find("not valid YAML"), std::string::npos);
}

// Issue #17: with a key given twice the first value won silently (PyYAML, and so timm, take the last).
TEST(TrainConfig, DuplicateKeysAreErrors) {
  std::string e = yaml_error("lr: 0.1\nbatch_size: 4\nlr: 0.2\n");
  EXPECT_NE(e.find("key 'lr' is given twice"), std::string::npos) << e;
  EXPECT_NE(e.find("c.yaml"), std::string::npos) << e;
  e = yaml_error("data_dir: /a\ndata: /b\n");  // data is timm's alias of data_dir
  EXPECT_NE(e.find("given twice"), std::string::npos) << e;
}

// Issue #17: lr -1 trained (backwards); epochs x steps overflowed int64.
TEST(TrainFlags, ValuesNoRunCanUseAreRefusedNamingTheFlag) {
  auto error = [](const std::function<void(TrainFlags&)>& set, int64_t steps = 10) {
    TrainFlags f;
    set(f);
    try {
      f.trainer_config(steps);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error([](TrainFlags&) {}), "");
  EXPECT_NE(error([](TrainFlags& f) { f.lr = -1; }).find("--lr"), std::string::npos);
  EXPECT_NE(error([](TrainFlags& f) { f.lr = NAN; }).find("--lr"), std::string::npos);
  EXPECT_NE(error([](TrainFlags& f) { f.weight_decay = -0.1f; }).find("--weight-decay"), std::string::npos);
  EXPECT_NE(error([](TrainFlags& f) { f.opt_betas = {0.9f, 1.5f}; }).find("--opt-betas"), std::string::npos);
  EXPECT_NE(error([](TrainFlags& f) { f.opt_eps = 0; }).find("--opt-eps"), std::string::npos);
  EXPECT_NE(error([](TrainFlags& f) { f.epochs = int64_t{1} << 62; }).find("--epochs"), std::string::npos);
  EXPECT_NE(error([](TrainFlags& f) { f.warmup_epochs = int64_t{1} << 62; }).find("--warmup-epochs"), std::string::npos);
}

// ---- one run per folder -----------------------------------------------------------

TEST(FolderLock, SecondHolderFailsNamingFolderAndPidAndADeadHolderBlocksNothing) {
  ScratchDir dir;
  const std::string folder = dir / "run";
  {
    FolderLock a(folder);
    try {
      FolderLock b(folder);
      ADD_FAILURE() << "locked twice";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + folder + "' is in use by another run (pid " + std::to_string(::getpid()) + ")"),
                std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(FolderLock again(folder));
  // A holder killed with SIGKILL (only async-signal-safe calls in the child).
  const std::string lock = folder + "/" + kLockFile;
  const pid_t child = ::fork();
  if (child == 0) {
    int fd = ::open(lock.c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_NO_THROW(FolderLock after_kill(folder));
}

// ---- checkpoints --------------------------------------------------------------

models::VitConfig tiny_vit(int64_t depth = 1) {
  models::VitConfig c;
  c.img_size = 8, c.patch_size = 4, c.embed_dim = 16, c.depth = depth, c.num_heads = 2, c.num_classes = 3;
  return c;
}

// One accumulated step of a tiny classifier on fixed random data.
void train_steps(const models::VisionTransformer& m, Trainer& t, int steps, int micro, uint64_t seed) {
  nn::Context ctx;
  for (int s = 0; s < steps; ++s) {
    for (int k = 0; k < micro; ++k) {
      Tensor x = test::randn({4 / micro, 3, 8, 8}, seed + 10 * s + k);
      Tensor y = Tensor::from_vector(std::vector<int64_t>(4 / micro, (s + k) % 3), {4 / micro});
      t.backward(ops::cross_entropy(m.forward(Var(x), ctx), y));
    }
    t.step();
  }
}

TEST(TrainCheckpoint, RoundTripRestoresWeightsMomentsAndState) {
  ScratchDir dir;
  models::VisionTransformer a(tiny_vit());
  a.init_weights(1);
  Trainer ta(a, TrainerConfig{});
  train_steps(a, ta, 3, 1, 5);
  TrainState s{3, 2, 6, 77, 1234, 999};
  save_checkpoint(dir / "ck.safetensors", a, ta.optimizer(), s, "lr: 1\n");

  models::VisionTransformer b(tiny_vit());
  Trainer tb(b, TrainerConfig{});
  Checkpoint c = load_checkpoint(dir / "ck.safetensors", b, tb.optimizer());
  EXPECT_EQ(c.state.step, 3);
  EXPECT_EQ(c.state.epoch, 2);
  EXPECT_EQ(c.state.position, 6);
  EXPECT_EQ(c.state.rng_seed, 77u);
  EXPECT_EQ(c.state.rng_offset, 1234u);
  EXPECT_EQ(c.state.metrics_bytes, 999u);
  EXPECT_EQ(c.config_yaml, "lr: 1\n");
  EXPECT_EQ(tb.optimizer().steps(), 3);
  EXPECT_EQ(checkpoint_step(dir / "ck.safetensors"), 3);
  for (size_t i = 0; i < ta.optimizer().slots().size(); ++i) {
    const auto &sa = ta.optimizer().slots()[i], &sb = tb.optimizer().slots()[i];
    EXPECT_EQ(sa.param.var.value().to_vector(), sb.param.var.value().to_vector()) << sa.param.name;
    EXPECT_EQ(sa.m.to_vector(), sb.m.to_vector()) << sa.param.name;
    EXPECT_EQ(sa.v.to_vector(), sb.v.to_vector()) << sa.param.name;
  }
  // ... so the next steps are the same too.
  tb.set_steps_done(3);
  train_steps(a, ta, 1, 1, 50);
  train_steps(b, tb, 1, 1, 50);
  EXPECT_EQ(a.parameter("head.weight").value().to_vector(), b.parameter("head.weight").value().to_vector());
}

// Issue #17 item 5: a flipped byte in a checkpoint's weights or counters resumed silently.
TEST(TrainCheckpoint, DamagedCheckpointIsRefusedBeforeLoading) {
  ScratchDir dir;
  models::VisionTransformer a(tiny_vit());
  a.init_weights(1);
  Trainer ta(a, TrainerConfig{});
  train_steps(a, ta, 2, 1, 5);
  TrainState s;
  s.step = 2, s.epoch = 1, s.position = 0, s.steps_per_epoch = 2, s.accum_steps = 1;
  const std::string ck = dir / "ck.safetensors";
  save_checkpoint(ck, a, ta.optimizer(), s, "lr: 1\n");
  const std::string good = test::read_text(ck);
  auto error_with = [&](const std::string& bytes) -> std::string {
    std::ofstream(ck, std::ios::binary) << bytes;
    models::VisionTransformer b(tiny_vit());
    Trainer tb(b, TrainerConfig{});
    try {
      load_checkpoint(ck, b, tb.optimizer());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_with(good), "");
  std::string weight = good;
  weight[weight.size() - 3] ^= 0x10;  // the data ends the file
  std::string e = error_with(weight);
  EXPECT_NE(e.find("checkpoint '" + ck + "' is damaged"), std::string::npos) << e;
  EXPECT_NE(e.find("checksum"), std::string::npos) << e;
  std::string counter = good;
  const size_t at = counter.find("\"step\":\"2\"");
  ASSERT_NE(at, std::string::npos);
  counter[at + 8] = '3';
  EXPECT_NE(error_with(counter).find("checksum"), std::string::npos);

  // Counters that disagree under a valid checksum (written so, or by an older version without one).
  for (auto damage : {+[](TrainState& t) { t.epoch = 3; }, +[](TrainState& t) { t.position = 5; }}) {
    TrainState bad = s;
    damage(bad);
    save_checkpoint(ck, a, ta.optimizer(), bad, "lr: 1\n");
    e = error_with(test::read_text(ck));
    EXPECT_NE(e.find("is damaged"), std::string::npos) << e;
  }
}

TEST(TrainCheckpoint, RefusesTruncatedForeignAndMismatchedFiles) {
  ScratchDir dir;
  models::VisionTransformer a(tiny_vit());
  Trainer ta(a, TrainerConfig{});
  const std::string ck = dir / "ck.safetensors";
  save_checkpoint(ck, a, ta.optimizer(), TrainState{}, "");
  auto error_of = [&](const std::string& path, const models::VisionTransformer& m, Trainer& t) -> std::string {
    try {
      load_checkpoint(path, m, t.optimizer());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };

  fs::copy_file(ck, dir / "cut.safetensors");
  fs::resize_file(dir / "cut.safetensors", fs::file_size(ck) - 100);
  std::string e = error_of(dir / "cut.safetensors", a, ta);
  EXPECT_NE(e.find("cut.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;

  io::save_safetensors(dir / "model.safetensors", io::state_dict(a));
  e = error_of(dir / "model.safetensors", a, ta);
  EXPECT_NE(e.find("not a training checkpoint"), std::string::npos) << e;

  models::VisionTransformer deeper(tiny_vit(2));
  Trainer td(deeper, TrainerConfig{});
  e = error_of(ck, deeper, td);
  EXPECT_NE(e.find("blocks.1."), std::string::npos) << e;

  EXPECT_THROW(checkpoint_path(dir / "nothing"), Error);
  EXPECT_EQ(checkpoint_path(ck), ck);
  fs::create_directories(dir / "run");
  EXPECT_THROW(checkpoint_path(dir / "run"), Error);
}

// ---- trainer ------------------------------------------------------------------

TEST(Trainer, AccumulatedMicroBatchesMatchOneLargeBatch) {
  models::VisionTransformer a(tiny_vit()), b(tiny_vit());
  a.init_weights(3), b.init_weights(3);
  TrainerConfig one, two;
  two.accum_steps = 2;
  one.clip_grad = two.clip_grad = 0.5;  // also clipped the same way
  Trainer ta(a, one), tb(b, two);
  nn::Context ctx;
  Tensor x = test::randn({4, 3, 8, 8}, 9);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 2, 1, 2}, {4});
  ta.backward(ops::cross_entropy(a.forward(Var(x), ctx), y));
  StepStats sa = ta.step();
  for (int k = 0; k < 2; ++k)
    tb.backward(ops::cross_entropy(b.forward(Var(x.slice(0, 2 * k, 2 * k + 2).contiguous()), ctx),
                                   y.slice(0, 2 * k, 2 * k + 2).contiguous()));
  StepStats sb = tb.step();
  EXPECT_NEAR(sa.grad_norm, sb.grad_norm, 1e-5 * sa.grad_norm);
  EXPECT_EQ(sa.lr, sb.lr);
  // AdamW's first update is about lr * g / |g| (lr 1e-3): where g is near zero, the
  // two summation orders' rounding shows at a few thousandths of lr.
  for (const nn::NamedParam& p : a.named_parameters()) {
    std::vector<float> va = p.var.value().to_vector(), vb = b.parameter(p.name).value().to_vector();
    for (size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], vb[i], 1e-5) << p.name << "[" << i << "]";
  }
  EXPECT_THROW(tb.step(), Error) << "a step needs its micro-batches first";
}

TEST(Trainer, NonFiniteLossStopsBeforeAnyUpdate) {
  models::VisionTransformer a(tiny_vit());
  a.init_weights(4);
  Trainer t(a, TrainerConfig{});
  const std::vector<float> before = a.parameter("head.weight").value().to_vector();
  nn::Context ctx;
  Tensor x = test::randn({2, 3, 8, 8}, 1);
  x.data<float>()[5] = std::nanf("");
  Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 1}, {2});
  try {
    t.backward(ops::cross_entropy(a.forward(Var(x), ctx), y));
    FAIL() << "no NonFinite";
  } catch (const NonFinite& e) {
    EXPECT_STREQ(e.what(), "loss is nan at step 1");
  }
  EXPECT_EQ(a.parameter("head.weight").value().to_vector(), before);
  EXPECT_EQ(t.steps_done(), 0);
}

// ---- metrics and curves -------------------------------------------------------

TEST(TrainMetrics, ResumeCutsTheLogBackToTheCheckpoint) {
  ScratchDir dir;
  const std::string path = dir / "metrics.jsonl";
  uint64_t at = 0;
  {
    MetricsLog m(path);
    m.write({{"step", 1}, {"loss", short_float(1.5e-3f)}});
    at = m.bytes();
    m.write({{"step", 2}, {"loss", 2.0}});
  }
  EXPECT_EQ(test::read_text(path).substr(0, at), "{\"step\":1,\"loss\":0.0015}\n");
  {
    MetricsLog m(path, int64_t(at));
    m.write({{"step", 2}, {"loss", 3.0}});
  }
  std::vector<nlohmann::json> r = read_metrics(path);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1]["loss"].get<double>(), 3.0);
  EXPECT_THROW(MetricsLog(path, 10000), Error);  // shorter than the checkpoint says
  EXPECT_EQ(float(short_float(0.1f)), 0.1f);
}

TEST(TrainPlot, FigureHasAxesCurvesAndLabels) {
  ScratchDir dir;
  std::vector<nlohmann::json> records;
  for (int s = 1; s <= 3000; ++s)  // more points than pixels: thinned
    records.push_back({{"step", s}, {"loss", 2.0 * std::exp(-s / 800.0) + 0.1 * std::sin(s)}});
  records.push_back({{"epoch", 0}, {"train_loss", 1.0}});  // not a step record: skipped
  Figure f = metrics_figure(records, {{"loss", "loss"}, {"lr", "lr", false}});
  ASSERT_EQ(f.panels.size(), 2u);
  EXPECT_EQ(f.panels[0].series.size(), 2u) << "raw and moving mean";
  EXPECT_EQ(f.panels[0].series[0].x.size(), 3000u);
  EXPECT_TRUE(f.panels[1].series[0].x.empty());

  data::Image img = render_image(f);
  EXPECT_EQ(img.width, 2 * f.panel_w);
  EXPECT_EQ(img.height, f.panel_h);
  int blue = 0, dark = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < f.panel_w; ++x) {
      int r = img.at(x, y, 0), g = img.at(x, y, 1), b = img.at(x, y, 2);
      blue += b > 150 && r < 80 && g < 150;  // the mean curve (0x1f77b4)
      dark += r < 60 && g < 60 && b < 60;    // text and axes
    }
  EXPECT_GT(blue, 300);
  EXPECT_GT(dark, 300);

  const std::string svg = render_svg(f);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find(">loss</text>"), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);

  write_figure(f, dir / "curves");
  EXPECT_EQ(test::read_text(dir / "curves.png").substr(1, 3), "PNG");
  EXPECT_EQ(test::read_text(dir / "curves.svg"), svg);
}

// Too few images for one optimizer step (batch x accumulation) is an error
// that names the dataset and the two flags, not an epoch of zero steps.
TEST(TrainFlags, StepsPerEpochNamesADatasetTooSmallForOneStep) {
  data::Dataset ds;
  ds.root = ds.source = "/nowhere/tiny-set";
  for (int i = 0; i < 10; ++i) ds.samples.push_back({"img" + std::to_string(i) + ".jpg", 0});
  TrainFlags t;
  t.batch_size = 4, t.workers = 1;
  data::Loader loader(ds, t.loader_options(data::TransformFlags{}));
  t.accum_steps = 2;
  EXPECT_EQ(t.steps_per_epoch(loader, ds), 1);  // 10 images in batches of 4: one step of 2 batches
  t.accum_steps = 3;
  try {
    t.steps_per_epoch(loader, ds);
    FAIL() << "no error for 10 images and 12 per step";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/nowhere/tiny-set"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--accum-steps"), std::string::npos) << msg;
  }
}

// A run shorter than its warm-up never reaches --lr: the README's one-epoch
// example with the default 10 warm-up epochs. Said, with the lr it ends at.
TEST(TrainFlags, WarmupLongerThanTheRunIsWarnedAbout) {
  TrainFlags t;
  t.lr = 1e-3f, t.warmup_lr = 0.0f, t.epochs = 1, t.warmup_epochs = 10;
  const std::string w = t.warmup_warning();
  EXPECT_NE(w.find("--warmup-epochs 10 is longer than the run (--epochs 1)"), std::string::npos) << w;
  EXPECT_NE(w.find("to 0.0001 at the end"), std::string::npos) << w;
  t.warmup_epochs = 1;
  EXPECT_EQ(t.warmup_warning(), "") << "a warm-up as long as the run reaches --lr at its end";
  t.warmup_epochs = 0;
  EXPECT_EQ(t.warmup_warning(), "");
}

// In a log (not a terminal) the first step is shown at once, then every log_interval steps.
TEST(TrainMeter, LogShowsTheFirstStepAtOnce) {
  ::testing::internal::CaptureStdout();
  {
    TrainMeter m(/*first_step=*/0, /*total_steps=*/50, /*log_interval=*/20, /*quiet=*/false);
    for (int64_t s = 1; s <= 21; ++s) m.step(s, s * 8, "loss 1");
  }
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("step 1/50"), std::string::npos) << out;
  EXPECT_NE(out.find("step 20/50"), std::string::npos) << out;
  EXPECT_EQ(out.find("step 2/50"), std::string::npos) << out;
  EXPECT_EQ(out.find("step 21/50"), std::string::npos) << out;

  ::testing::internal::CaptureStdout();  // a resumed run: its own first step
  {
    TrainMeter m(/*first_step=*/30, 50, 20, false);
    m.step(31, 8, "loss 1");
  }
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("step 31/50"), std::string::npos) << out;
}

// Epoch curves have ticks at whole epochs, counted from 1 as the logs count them.
TEST(TrainPlot, EpochAxisHasWholeTicksCountedFromOne) {
  std::vector<nlohmann::json> records{{{"epoch", 0}, {"val_top1", 40.0}}, {{"epoch", 1}, {"val_top1", 55.5}}};
  const std::string svg = render_svg(metrics_figure(records, {{"val_top1", "val top-1", false}}, "epoch", 1));
  std::vector<std::string> ticks;  // x-axis tick labels are the centred numbers
  const std::regex tick("text-anchor=\"middle\">([-0-9.e]+)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator(); ++it)
    ticks.push_back((*it)[1]);
  ASSERT_FALSE(ticks.empty()) << svg;
  for (const std::string& t : ticks) EXPECT_EQ(t.find('.'), std::string::npos) << "fractional epoch tick " << t;
  EXPECT_NE(std::find(ticks.begin(), ticks.end(), "1"), ticks.end());
  EXPECT_NE(std::find(ticks.begin(), ticks.end(), "2"), ticks.end());
  EXPECT_EQ(std::find(ticks.begin(), ticks.end(), "0"), ticks.end()) << "epochs count from 1";
}

}  // namespace
}  // namespace mapet::apps::train
