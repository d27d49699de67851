// `mapet validate` end to end on the PyTorch-written fixture model
// (tests/fixtures/torch/vit_tiny.pth, from tools/make_torch_fixtures.py).
//
// The known accuracy: the test first computes the model's class ranking for
// each of 12 JPEGs (through the engine, weights from the safetensors twin),
// then files every image under a class chosen from that ranking — first for
// 4 images, third for 4, last for 4 — so top-1 must be 4/12 and top-5 8/12.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/loader.h"
#include "engine/io/safetensors.h"
#include "engine/io/state_dict.h"
#include "models/registry.h"
#include "tests/apps/run_mapet.h"
#include "tests/data/data_test_util.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;
using data::test::TempDir;

std::string fixture(const std::string& name) { return std::string(MAPET_FIXTURES) + "/torch/" + name; }

using test::ProcResult;
using test::run_mapet;

// The fixture's architecture (see tools/make_torch_fixtures.py) and its flags for `mapet validate`.
models::ModelOptions tiny_options() {
  models::ModelOptions o;
  o.img_size = 32, o.patch_size = 8, o.embed_dim = 24, o.depth = 2, o.num_heads = 3, o.num_classes = 10;
  o.global_pool = "avg", o.layer_scale_init = 1.0f, o.drop_path_rate = 0.0f;
  return o;
}
const std::string kTinyFlags =
    "--model vit_standard_tiny_patch16_224 --img-size 32 --model-kwargs patch_size=8 embed_dim=24 depth=2 num_heads=3";

std::unique_ptr<models::VisionTransformer> tiny_model_from(const io::TensorMap& weights) {
  auto m = models::create_vit("vit_standard_tiny_patch16_224", tiny_options());
  io::load_into(*m, weights, "fixture");
  m->train(false);
  return m;
}

Tensor forward(const models::VisionTransformer& m, const Tensor& images) {
  autograd::NoGradGuard ng;
  nn::Context ctx;
  return m.forward(Var(images), ctx).value();
}

TEST(ValidateModel, TorchCheckpointGivesPyTorchLogits) {
  io::TensorMap io_ = io::load_safetensors(fixture("vit_tiny_io.safetensors"));
  io::LoadedWeights w = io::load_weights(fixture("vit_tiny.pth"));
  for (const char* extra : {"decoder.weight", "decoder.bias", "mask_positional_token"}) ASSERT_EQ(w.tensors.erase(extra), 1u);
  Tensor from_pth = forward(*tiny_model_from(w.tensors), io_.at("images"));
  Tensor from_st = forward(*tiny_model_from(io::load_safetensors(fixture("vit_tiny.safetensors"))), io_.at("images"));
  EXPECT_EQ(from_pth.to_vector(), from_st.to_vector());
  std::vector<float> got = from_pth.to_vector(), want = io_.at("logits").to_vector();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 + 1e-4 * std::fabs(want[i])) << i;
}

class Validate : public ::testing::Test {
 protected:
  static constexpr int kImages = 12, kClasses = 10;

  void SetUp() override {
    // 12 noise JPEGs of assorted sizes, first all in one folder to get their predictions.
    const std::string pool = dir / "pool";
    for (int i = 0; i < kImages; ++i) {
      data::Image img = data::test::random_image(30 + (i * 7) % 41, 28 + (i * 5) % 37, 100 + i);
      data::test::write_bytes(pool + "/x/" + name(i), data::test::jpeg_of(img, 90));
    }
    auto model = tiny_model_from(io::load_safetensors(fixture("vit_tiny.safetensors")));
    data::Dataset ds = data::load_image_folder(pool);
    data::LoaderOptions lo;
    lo.batch_size = kImages, lo.mode = data::Mode::eval, lo.shuffle = false, lo.drop_last = false;
    lo.even_shards = false, lo.workers = 1, lo.strict = true;
    lo.transform.size = 32;  // crop_pct 0.9, bicubic, ImageNet mean/std: validate's defaults
    data::Loader loader(ds, lo);
    loader.start_epoch(0);
    data::Batch b;
    ASSERT_TRUE(loader.next(b));
    Tensor logits = forward(*model, b.images);

    // Image i goes to the class the model ranks first (i % 3 == 0), third (1) or last (2).
    int64_t top1 = 0, top5 = 0;
    for (int64_t k = 0; k < kImages; ++k) {
      const int i = std::stoi(fs::path(ds.samples[b.indices[k]].path).stem().string().substr(4));
      const float* x = logits.data<float>() + k * kClasses;
      std::vector<int> order(kClasses);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int p, int q) { return x[p] > x[q]; });
      const int label = order[i % 3 == 0 ? 0 : i % 3 == 1 ? 2 : kClasses - 1];
      double m = *std::max_element(x, x + kClasses), s = 0;
      for (int c = 0; c < kClasses; ++c) s += std::exp(double(x[c]) - m);
      loss += (m + std::log(s) - x[label]) / kImages;
      top1 += i % 3 == 0, top5 += i % 3 != 2;
      const std::string rel = "val/" + cls(label) + "/" + name(i);
      fs::create_directories(fs::path(dir / rel).parent_path());
      fs::copy_file(pool + "/x/" + name(i), dir / rel);
      csv << rel << "," << label << "\n";
    }
    ASSERT_EQ(top1, 4);
    ASSERT_EQ(top5, 8);
    for (int c = 0; c < kClasses; ++c) fs::create_directories(dir / ("val/" + cls(c)));  // empty classes still count
    // A decoy train/ split: validate must pick val/.
    data::test::write_bytes(dir / "train/only_class/a.jpg", data::test::jpeg_of(data::test::random_image(9, 9, 1)));
    std::ofstream(dir / "val.csv") << "path,label\n" << csv.str();
  }

  static std::string name(int i) { return "img_" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".jpg"; }
  static std::string cls(int c) { return "class_0" + std::to_string(c); }

  // Runs validate with the results file, checks success and returns the JSON.
  nlohmann::json validate_ok(const std::string& data, const std::string& checkpoint, const std::string& extra,
                             std::string* output = nullptr) {
    const std::string results = dir / "results.json";
    fs::remove(results);
    ProcResult r = run_mapet("validate " + data + " " + kTinyFlags + " --checkpoint " + checkpoint +
                             " --results-file " + results + " " + extra);
    EXPECT_EQ(r.status, 0) << r.output;
    if (output) *output = r.output;
    std::ifstream f(results);
    EXPECT_TRUE(f.good()) << "no results file\n" << r.output;
    return f.good() ? nlohmann::json::parse(f) : nlohmann::json::object();
  }

  void expect_known_accuracy(const nlohmann::json& j) {
    EXPECT_EQ(j.value("model", ""), "vit_standard_tiny_patch16_224");
    EXPECT_NEAR(j.value("top1", -1.0), 33.3333, 1e-9) << j.dump();
    EXPECT_NEAR(j.value("top1_err", -1.0), 66.6667, 1e-9) << j.dump();
    EXPECT_NEAR(j.value("top5", -1.0), 66.6667, 1e-9) << j.dump();
    EXPECT_NEAR(j.value("top5_err", -1.0), 33.3333, 1e-9) << j.dump();
    const int64_t params = models::create_vit("vit_standard_tiny_patch16_224", tiny_options())->num_parameters();
    EXPECT_NEAR(j.value("param_count", -1.0), std::round(params / 1e4) / 100, 1e-12) << j.dump();
    EXPECT_EQ(j.value("img_size", 0), 32);
    EXPECT_NEAR(j.value("crop_pct", 0.0), 0.9, 1e-12);
    EXPECT_EQ(j.value("interpolation", ""), "bicubic");
  }

  TempDir dir;
  double loss = 0;
  std::ostringstream csv;
};

TEST_F(Validate, TorchCheckpointGivesTheKnownAccuracyAndLoss) {
  std::string out;
  nlohmann::json j = validate_ok(dir.str(), fixture("vit_tiny.pth"), "--gp avg --crop-pct 0.9 -b 5", &out);
  expect_known_accuracy(j);
  EXPECT_NE(out.find(" * Acc@1 33.333 (66.667) Acc@5 66.667 (33.333)"), std::string::npos) << out;
  const size_t at = out.find(" * Loss ");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_NEAR(std::stod(out.substr(at + 8)), loss, 1e-4) << out;
  EXPECT_NE(out.find("images/s"), std::string::npos) << out;
  EXPECT_NE(out.find("using split folder '" + (dir / "val") + "'"), std::string::npos) << out;
  EXPECT_NE(out.find("dropped 3 pre-training tensors"), std::string::npos) << out;
  EXPECT_NE(out.find("'module.' prefix"), std::string::npos) << out;
  // timm's "--result" JSON on stdout holds the same.
  const size_t r = out.find("--result\n");
  ASSERT_NE(r, std::string::npos) << out;
  EXPECT_EQ(nlohmann::json::parse(out.substr(r + 9)), j);
}

TEST_F(Validate, CsvDatasetAndSafetensorsCheckpointGiveTheSame) {
  expect_known_accuracy(validate_ok(dir / "val.csv", fixture("vit_tiny.safetensors"), "--gp avg --num-classes 10"));
}

TEST_F(Validate, OfficialCommandLineRuns) {
  std::string out;
  nlohmann::json j = validate_ok(dir.str(), fixture("vit_tiny.pth"),
                                 "--interpolation \"bicubic\" --amp --gp \"avg\" --pin-mem --no-prefetcher", &out);
  EXPECT_NE(out.find("note: --pin-mem"), std::string::npos) << out;
  EXPECT_NE(out.find("note: --no-prefetcher"), std::string::npos) << out;
  // bf16 GEMMs may move a near tie, so only the sanity of the numbers is checked here.
  EXPECT_GE(j.value("top1", -1.0), 0.0);
  EXPECT_LE(j.value("top1", 101.0), j.value("top5", -1.0));
  EXPECT_LE(j.value("top5", 101.0), 100.0);
}

TEST_F(Validate, CsvResultsFile) {
  const std::string path = dir / "results.csv";
  ProcResult r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --gp avg --checkpoint " +
                           fixture("vit_tiny.pth") + " --results-file " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream f(path);
  std::string head, row;
  std::getline(f, head), std::getline(f, row);
  EXPECT_EQ(head, "model,top1,top1_err,top5,top5_err,param_count,img_size,crop_pct,interpolation");
  EXPECT_EQ(row.rfind("vit_standard_tiny_patch16_224,33.3333,66.6667,66.6667,33.3333,", 0), 0u) << row;
}

TEST_F(Validate, UnknownFlagsAreRefusedAndUnsupportedTimmFlagsNamed) {
  ProcResult r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --checkpoint " + fixture("vit_tiny.pth") +
                           " --bogus-flag");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("--bogus-flag"), std::string::npos) << r.output;
  r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --checkpoint " + fixture("vit_tiny.pth") + " --test-pool");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("--test-pool is not supported"), std::string::npos) << r.output;
}

TEST_F(Validate, MissingOrWrongShapedParameterIsNamed) {
  io::TensorMap w = io::load_safetensors(fixture("vit_tiny.safetensors"));
  w.erase("blocks.1.mlp.fc2.bias");
  const std::string path = dir / "missing.safetensors";
  io::save_safetensors(path, w);
  ProcResult r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --gp avg --checkpoint " + path);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("missing parameter 'blocks.1.mlp.fc2.bias'"), std::string::npos) << r.output;

  r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --gp avg --num-classes 7 --checkpoint " +
                fixture("vit_tiny.pth"));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("'head.weight' has shape [10, 24], the model expects [7, 24]"), std::string::npos)
      << r.output;
}

TEST_F(Validate, TruncatedAndForeignCheckpointsAreRefusedNamingTheFile) {
  std::ifstream in(fixture("vit_tiny.pth"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string cut = dir / "cut.pth";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  ProcResult r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --checkpoint " + cut);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("'" + cut + "'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;

  const std::string noise = dir / "noise.bin";
  std::ofstream(noise, std::ios::binary) << bytes.substr(bytes.size() / 3, 1000);  // float bytes from the middle
  r = run_mapet("validate " + dir.str() + " " + kTinyFlags + " --checkpoint " + noise);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("'" + noise + "'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace mapet
