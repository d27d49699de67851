// The commands' --device flag (apps/train/device.h): parsing and its errors, `mapet --device
// cuda-sim` running mapet-sim, checkpoints moving between devices, and end to end on cuda-sim
// (debug-step against the CPU, a short pretrain that resumes on the CPU).
//
// This binary is linked against the simt backend (MAPET_CUDA_SIM): in-process, Device::cuda is
// the CUDA backend with every kernel under the SIMT runtime on host memory. The commands run the
// real `mapet` (MAPET_BINARY, the build's default backend) and `mapet-sim` (MAPET_SIM_BINARY).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/train/checkpoint.h"
#include "apps/train/device.h"
#include "engine/cuda/runtime.h"
#include "engine/io/safetensors.h"
#include "engine/optim/adamw.h"
#include "models/vit.h"
#include "tests/apps/pretrain_fixture.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;
using test::RunResult;
using test::ScratchDir;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Runs `binary args...` (stdout and stderr together; MAPET_THREADS=1 unless set).
RunResult run_binary(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_to_end(std::move(argv), log);
}

// ---- the flag --------------------------------------------------------------

TEST(DeviceFlag, ParsesItsThreeNamesDefaultsToCpuAndRefusesOthers) {
  for (const char* name : {"cpu", "cuda", "cuda-sim"}) {
    CLI::App app;
    apps::train::DeviceFlag f;
    f.add_to(&app);
    app.parse(std::vector<std::string>{name, "--device"});  // CLI11 reads the vector backwards
    EXPECT_EQ(f.name, name);
  }
  CLI::App app;
  apps::train::DeviceFlag f;
  f.add_to(&app);
  app.parse(std::vector<std::string>{});
  EXPECT_EQ(f.name, "cpu");
  EXPECT_EQ(f.resolve().device, Device::cpu);
  EXPECT_THROW(app.parse(std::vector<std::string>{"gpu", "--device"}), CLI::ValidationError);
}

TEST(DeviceFlag, InTheSimBuildCudaSimIsDeviceCudaAndCudaIsRefused) {
  ASSERT_STREQ(device::linked_backend(), "sim");
  apps::train::DeviceFlag f;
  f.name = "cuda-sim";
  const apps::train::DeviceChoice d = f.resolve();
  EXPECT_EQ(d.device, Device::cuda);
  EXPECT_EQ(apps::train::device_label(Device::cuda), "cuda-sim");
  f.name = "cuda";
  try {
    f.resolve();
    ADD_FAILURE() << "--device cuda resolved in the SIMT build";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "this is the SIMT build")) << e.what();
  }
}

TEST(DeviceFlag, ProgressFieldAndSummaryShowTheDeviceAllocator) {
  EXPECT_EQ(apps::train::device_field(Device::cpu), "");
  Tensor t = Tensor::zeros({1 << 18}, DType::f32, Device::cuda);  // 1 MiB in use
  const std::string field = apps::train::device_field(Device::cuda);
  EXPECT_TRUE(contains(field, "cuda-sim ")) << field;
  EXPECT_TRUE(contains(field, " MiB")) << field;
  const std::string summary = apps::train::memory_summary(Device::cuda);
  EXPECT_TRUE(contains(summary, "host memory: peak")) << summary;
  EXPECT_TRUE(contains(summary, "cuda-sim device memory: peak")) << summary;
}

// ---- checkpoints between devices ------------------------------------------

std::unique_ptr<models::VisionTransformer> tiny_vit(uint64_t seed) {
  models::VitConfig c;
  c.img_size = 8, c.patch_size = 4, c.in_chans = 3, c.num_classes = 3;
  c.embed_dim = 8, c.depth = 1, c.num_heads = 2, c.global_pool = "avg";
  auto m = std::make_unique<models::VisionTransformer>(c);
  m->init_weights(seed);
  return m;
}

// Distinct moments in every slot, so a moment read into the wrong slot shows.
void fill_moments(optim::AdamW& opt, uint64_t seed) {
  for (optim::AdamW::Slot& s : opt.slots()) {
    s.m.copy_(test::randn(s.m.shape(), seed++));
    s.v.copy_(test::randn(s.v.shape(), seed++));
  }
}

void expect_same_state(const nn::Module& a, optim::AdamW& oa, const nn::Module& b, optim::AdamW& ob) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(pa[i].var.value().to_vector(), pb[i].var.value().to_vector()) << pa[i].name;
  ASSERT_EQ(oa.slots().size(), ob.slots().size());
  for (size_t i = 0; i < oa.slots().size(); ++i) {
    EXPECT_EQ(oa.slots()[i].m.to_vector(), ob.slots()[i].m.to_vector()) << "exp_avg " << oa.slots()[i].param.name;
    EXPECT_EQ(oa.slots()[i].v.to_vector(), ob.slots()[i].v.to_vector()) << "exp_avg_sq " << oa.slots()[i].param.name;
  }
  EXPECT_EQ(oa.steps(), ob.steps());
}

TEST(DeviceCheckpoint, WrittenOnCudaSimLoadsOnCpuAndTheOtherWayRound) {
  ScratchDir dir;
  apps::train::TrainState st;
  st.step = 3, st.epoch = 1, st.position = 0, st.steps_per_epoch = 3, st.accum_steps = 1;

  // Written from Device::cuda: the model and the optimizer's moments live there.
  auto dev_model = tiny_vit(1);
  dev_model->to(Device::cuda);
  optim::AdamW dev_opt(dev_model->named_parameters(), {});
  ASSERT_EQ(dev_opt.slots().front().m.device(), Device::cuda) << "the moments follow the parameters";
  fill_moments(dev_opt, 100);
  dev_opt.set_steps(3);
  apps::train::save_checkpoint(dir / "dev.safetensors", *dev_model, dev_opt, st, "device: cuda-sim\n");

  // The file is the CPU's format: plain f32 tensors, read back by the CPU alone.
  auto cpu_model = tiny_vit(2);
  optim::AdamW cpu_opt(cpu_model->named_parameters(), {});
  const apps::train::Checkpoint ck = apps::train::load_checkpoint(dir / "dev.safetensors", *cpu_model, cpu_opt);
  EXPECT_EQ(ck.state.step, 3);
  EXPECT_EQ(cpu_model->device(), Device::cpu);
  expect_same_state(*dev_model, dev_opt, *cpu_model, cpu_opt);

  // The CPU's checkpoint, resumed on the device: read on the CPU, copied into the device's tensors.
  fill_moments(cpu_opt, 500);
  apps::train::save_checkpoint(dir / "cpu.safetensors", *cpu_model, cpu_opt, st, "device: cpu\n");
  auto dev2 = tiny_vit(3);
  dev2->to(Device::cuda);
  optim::AdamW dev2_opt(dev2->named_parameters(), {});
  apps::train::load_checkpoint(dir / "cpu.safetensors", *dev2, dev2_opt);
  EXPECT_EQ(dev2->device(), Device::cuda);
  EXPECT_EQ(dev2_opt.slots().front().v.device(), Device::cuda);
  expect_same_state(*cpu_model, cpu_opt, *dev2, dev2_opt);

  // Both files: the same tensors, names and metadata but the config text (byte for byte otherwise).
  const io::TensorMap a = io::load_safetensors(dir / "dev.safetensors"), b = io::load_safetensors(dir / "cpu.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.str(), ib->second.str()) << ia->first;
  }
}

// ---- the binaries ----------------------------------------------------------

TEST(DeviceCli, BogusDeviceNameIsRefusedNamingTheChoices) {
  ScratchDir dir;
  const RunResult r = run_binary(MAPET_BINARY, {"debug-step", "--model", "vit_standard_tiny_patch16_224", "--out",
                                                dir / "o.safetensors", "--device", "tpu"},
                                 dir / "log.txt");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--device")) << r.output;
  EXPECT_TRUE(contains(r.output, "tpu")) << r.output;
  EXPECT_TRUE(contains(r.output, "cuda-sim")) << "the choices are listed:\n" << r.output;
}

TEST(DeviceCli, CudaWithoutAGpuFailsAtOnceNamingTheCudaError) {
  ScratchDir dir;
  const RunResult v = run_binary(MAPET_BINARY, {"--version"}, dir / "version.txt");
  ASSERT_EQ(v.exit_code, 0) << v.output;
  // pretrain checks --device before it reads anything: the data folder need not exist.
  const RunResult r = run_binary(MAPET_BINARY, {"pretrain", dir / "no-data", "--tokens", dir / "no-tokens",
                                                "--output", dir / "run", "--device", "cuda"},
                                 dir / "log.txt");
  ASSERT_NE(r.exit_code, 0) << r.output;
  if (contains(v.output, "CUDA backend: none")) {
    EXPECT_TRUE(contains(r.output, "built without a CUDA backend")) << r.output;
  } else {
    ASSERT_TRUE(contains(v.output, "CUDA backend: gpu")) << v.output;
    if (!contains(r.output, "--device cuda: Device::cuda needs a GPU"))
      GTEST_SKIP() << "a GPU seems present here (" << r.output << "): the no-GPU message cannot be checked";
    EXPECT_TRUE(contains(r.output, "cudaGetDeviceCount says: cudaError")) << "names the CUDA error: " << r.output;
    EXPECT_TRUE(contains(r.output, "no silent fall back")) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "run")) << "nothing is written before the device is checked";
}

TEST(DeviceCli, MapetRunsMapetSimForCudaSim) {
  ScratchDir dir;
  const RunResult own = run_binary(MAPET_BINARY, {"--version"}, dir / "own.txt");
  EXPECT_FALSE(contains(own.output, "CUDA backend: sim")) << own.output;
  const RunResult r = run_binary(MAPET_BINARY, {"--version", "--device", "cuda-sim"}, dir / "log.txt");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "CUDA backend: sim")) << "mapet --device cuda-sim is mapet-sim:\n" << r.output;
  const RunResult eq = run_binary(MAPET_BINARY, {"--version", "--device=cuda-sim"}, dir / "eq.txt");
  EXPECT_TRUE(contains(eq.output, "CUDA backend: sim")) << eq.output;
}

TEST(DeviceCli, MapetSimRefusesCudaSayingItIsTheSimtBuild) {
  ScratchDir dir;
  const RunResult r = run_binary(MAPET_SIM_BINARY, {"debug-step", "--model", "vit_standard_tiny_patch16_224", "--out",
                                                    dir / "o.safetensors", "--device", "cuda"},
                                 dir / "log.txt");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "this is the SIMT build")) << r.output;
}

TEST(DeviceCli, MissingMapetSimIsNamed) {
  ScratchDir dir;
  fs::create_directories(dir / "bin");
  fs::copy_file(MAPET_BINARY, dir / "bin/mapet");
  fs::permissions(dir / "bin/mapet", fs::perms::owner_all);
  const RunResult r = run_binary(dir / "bin/mapet", {"--version", "--device", "cuda-sim"}, dir / "log.txt");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "mapet-sim")) << r.output;
  EXPECT_TRUE(contains(r.output, (dir.path / "bin/mapet-sim").string())) << "names where it looked:\n" << r.output;
}

// ---- end to end on cuda-sim (need the model's device path: forward, backward, loss, AdamW) ----

// debug-step's model and batch come from --seed: the same on both devices.
std::vector<std::string> debug_step_args(const std::string& out, const std::string& device) {
  return {"debug-step", "--model", "mapet_tiny_patch16_224", "--img-size", "32", "--patch-size", "8",
          "--embed-dim", "64", "--depth", "2", "--num-heads", "2", "--least-number", "5", "--vocab-size", "16",
          "--batch-size", "2", "--seed", "3", "--steps", "2", "--out", out, "--device", device};
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector()) m = std::max(m, std::abs(double(v)));
  return m;
}

// max |got - want| over the tensor, relative to its largest |want| (at least 1e-30).
double relative_error(const Tensor& got, const Tensor& want) {
  const std::vector<float> g = got.to_vector(), w = want.to_vector();
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < w.size(); ++i)
    err = std::max(err, std::abs(double(g[i]) - double(w[i]))), scale = std::max(scale, std::abs(double(w[i])));
  return err / scale;
}

// Tolerances as tests/device/step_test.cpp argues them for f32 (the backends add the same products in
// other orders: a few float roundings per sum), with room for this model's wider sums: the loss and
// logits within 1e-5 of their scale, gradients 2e-5; parameters after 2 AdamW steps at lr 1e-3 within
// 5e-5 absolute (0.05 lr: an element whose gradient is rounding noise may move by another fraction of lr).
constexpr double kForwardTol = 1e-5, kGradTol = 2e-5, kParamTol = 5e-5;

TEST(DeviceEndToEnd, DebugStepOnCudaSimEqualsTheCpu) {
  ScratchDir dir;
  const RunResult cpu = run_binary(MAPET_BINARY, debug_step_args(dir / "cpu.safetensors", "cpu"), dir / "cpu.txt");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  // Through mapet: it runs mapet-sim.
  const RunResult sim = run_binary(MAPET_BINARY, debug_step_args(dir / "sim.safetensors", "cuda-sim"), dir / "sim.txt");
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  EXPECT_TRUE(contains(sim.output, "device: cuda-sim")) << sim.output;
  EXPECT_TRUE(contains(sim.output, "cuda-sim device memory: peak")) << sim.output;
  const io::TensorMap want = io::load_safetensors(dir / "cpu.safetensors"),
                      got = io::load_safetensors(dir / "sim.safetensors");
  ASSERT_EQ(got.size(), want.size());
  int grads = 0, params = 0;
  double worst_fwd = 0, worst_grad = 0, worst_param = 0;
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    const Tensor& g = got.at(name);
    ASSERT_EQ(g.shape(), w.shape()) << name;
    if (name.rfind("param.", 0) == 0) {
      ++params;
      EXPECT_TRUE(test::all_close(g, test::to_double(w), 0.0, kParamTol)) << name;
      worst_param = std::max(worst_param, relative_error(g, w) * std::max(1e-30, max_abs(w)));
    } else if (name.rfind("grad.", 0) == 0) {
      ++grads;
      EXPECT_LE(relative_error(g, w), kGradTol) << name;
      worst_grad = std::max(worst_grad, relative_error(g, w));
    } else {
      EXPECT_LE(relative_error(g, w), kForwardTol) << name;
      worst_fwd = std::max(worst_fwd, relative_error(g, w));
    }
  }
  std::printf("cuda-sim against cpu: loss/logits %.2g, gradients %.2g (of each tensor's scale), parameters %.2g\n",
              worst_fwd, worst_grad, worst_param);
  EXPECT_GT(grads, 10);
  EXPECT_EQ(grads, params);
}

class DevicePretrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("mapet_device_pretrain_data_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    test::write_pretrain_fixture(*root_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  // pretrain_test.cpp's tiny model on its fixture (64 JPEGs of 16 px, 8 visual tokens).
  static std::vector<std::string> args(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a{"pretrain", (*root_ / "data").string(), "--tokens", (*root_ / "tokens.bin").string(),
                               "--model", "mapet_tiny_patch16_224", "--img-size", "16", "--patch-size", "4",
                               "--depth", "2", "--embed-dim", "32", "--num-heads", "2", "-b", "8", "--accum-steps", "2",
                               "--warmup-epochs", "1", "--lr", "3e-3", "--workers", "1", "--output", out,
                               "--log-interval", "4"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static fs::path* root_;
};

fs::path* DevicePretrain::root_ = nullptr;

double mean_loss(const std::vector<nlohmann::json>& r, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += r[i]["loss"].get<double>();
  return s / double(to - from);
}

TEST_F(DevicePretrain, OnCudaSimTheLossFallsAndTheRunResumesOnTheCpu) {
  ScratchDir dir;
  const std::string out = dir / "run";
  // 6 epochs of 4 steps on cuda-sim (through mapet, which runs mapet-sim; ~4 s an epoch here).
  const RunResult sim = run_binary(MAPET_BINARY, args(out, {"--epochs", "6", "--device", "cuda-sim"}), dir / "sim.txt");
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  EXPECT_TRUE(contains(sim.output, "device: cuda-sim")) << sim.output;
  EXPECT_TRUE(contains(sim.output, "| cuda-sim ")) << "the progress line shows the device's memory:\n" << sim.output;
  EXPECT_TRUE(contains(sim.output, "cuda-sim device memory: peak")) << sim.output;
  EXPECT_TRUE(contains(test::read_text(out + "/config.yaml"), "device: cuda-sim"));
  std::vector<nlohmann::json> steps = test::step_records(out + "/metrics.jsonl");
  ASSERT_EQ(steps.size(), 24u);
  const double first = mean_loss(steps, 0, 4), last = mean_loss(steps, 20, 24);
  std::printf("cuda-sim: loss first epoch %.3f, last epoch %.3f (chance %.3f)\n", first, last, std::log(8.0));
  EXPECT_GT(first, 1.8);
  EXPECT_LT(last, 0.85 * first) << sim.output;

  // The cuda-sim checkpoint, two more epochs on the CPU.
  const RunResult cpu = run_binary(MAPET_BINARY, {"pretrain", "--resume", out, "--epochs", "8", "--device", "cpu",
                                                  "--log-interval", "4"},
                                   dir / "cpu.txt");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  EXPECT_TRUE(contains(cpu.output, "resuming from")) << cpu.output;
  EXPECT_TRUE(contains(cpu.output, "device: cuda-sim -> cpu")) << "the changed setting is noted:\n" << cpu.output;
  EXPECT_FALSE(contains(cpu.output, "memory: peak")) << "the CPU prints as before --device:\n" << cpu.output;
  steps = test::step_records(out + "/metrics.jsonl");
  ASSERT_EQ(steps.size(), 32u);
  EXPECT_EQ(steps[24]["step"].get<int64_t>(), 25);
  const double resumed = mean_loss(steps, 24, 32);
  std::printf("cpu after the resume: loss %.3f\n", resumed);
  EXPECT_LT(resumed, 0.85 * first) << "the CPU continues from the trained weights and moments:\n" << cpu.output;
  EXPECT_LT(resumed, last + 0.15) << cpu.output;
}

}  // namespace
}  // namespace mapet
