// `make study`: the aggregation over seeds (apps/train/study.h) on hand-written results, and
// tools/study.sh itself end to end on the pretrain tests' tiny dataset with a tiny budget.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "apps/train/study.h"
#include "engine/tensor.h"
#include "tests/apps/pretrain_fixture.h"

namespace mapet {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

const char* kArms[] = {"mapet", "pet", "mim", "scratch"};

void write_result(const fs::path& run, double best, double final1, double final5) {
  fs::create_directories(run);
  std::ofstream(run / "results.json") << nlohmann::json{{"best_top1", best}, {"final_top1", final1},
                                                         {"final_top5", final5}, {"protocol", "finetune"}}
                                             .dump();
}

TEST(Study, MeanAndSampleStandardDeviation) {
  const apps::train::MeanStd m = apps::train::mean_std({70.0, 72.0, 74.0});
  EXPECT_DOUBLE_EQ(m.mean, 72.0);
  EXPECT_DOUBLE_EQ(m.std, 2.0);  // sqrt((4 + 0 + 4) / 2)
  EXPECT_EQ(m.n, 3);
  const apps::train::MeanStd one = apps::train::mean_std({71.5});
  EXPECT_DOUBLE_EQ(one.mean, 71.5);
  EXPECT_TRUE(std::isnan(one.std)) << "one seed has no spread to show";
}

TEST(Study, ReportReducesEverySeedOfEveryArmAndProtocol) {
  ScratchDir dir;
  // Seeds 0, 1, 2 (written out of order): arm a, seed s: best = 60 + 5a + s, final = best - 1, top-5 = 99 - a.
  for (int s : {2, 0, 1})
    for (int a = 0; a < 4; ++a) {
      const fs::path seed = dir.path / ("seed-" + std::to_string(s));
      write_result(seed / (std::string("finetune-") + kArms[a]), 60 + 5 * a + s, 59 + 5 * a + s, 99 - a);
      write_result(seed / (std::string("probe-") + kArms[a]), 40 + 5 * a + 2 * s, 40 + 5 * a, 90);
    }
  std::ofstream(dir.path / "study.json") << R"({"description": "a test study", "seeds": 3})";
  fs::create_directories(dir.path / "seed-x");  // not a seed folder: ignored

  const std::string md = apps::train::write_study_report(dir.path.string());
  for (const char* f : {"results.md", "results.json", "results.png", "results.svg"})
    EXPECT_TRUE(fs::exists(dir.path / f)) << f;
  const nlohmann::json j = nlohmann::json::parse(test::read_text(dir / "results.json"));
  EXPECT_EQ(j["seeds"], nlohmann::json({0, 1, 2}));
  EXPECT_EQ(j["settings"]["description"], "a test study");
  ASSERT_EQ(j["finetune"].size(), 4u);
  ASSERT_EQ(j["linear_probe"].size(), 4u);
  for (int a = 0; a < 4; ++a) {
    const nlohmann::json& f = j["finetune"][a];
    EXPECT_EQ(f["arm"], kArms[a]);
    EXPECT_DOUBLE_EQ(f["best_top1"]["mean"].get<double>(), 61 + 5 * a);
    EXPECT_DOUBLE_EQ(f["best_top1"]["std"].get<double>(), 1.0);
    EXPECT_EQ(f["best_top1"]["values"], nlohmann::json({60 + 5 * a, 61 + 5 * a, 62 + 5 * a})) << "seed order";
    EXPECT_DOUBLE_EQ(f["final_top5"]["std"].get<double>(), 0.0);
    const nlohmann::json& p = j["linear_probe"][a];
    EXPECT_DOUBLE_EQ(p["best_top1"]["mean"].get<double>(), 42 + 5 * a);
    EXPECT_DOUBLE_EQ(p["best_top1"]["std"].get<double>(), 2.0);
  }
  EXPECT_NE(md.find("a test study"), std::string::npos) << md;
  EXPECT_NE(md.find("| MaPeT | 61.00 ± 1.00 | 60.00 ± 1.00 | 99.00 ± 0.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| from scratch | 57.00 ± 2.00 | 55.00 ± 0.00 | 90.00 ± 0.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Linear probing"), std::string::npos) << md;
}

TEST(Study, AMissingRunIsAnErrorNamingItsFile) {
  ScratchDir dir;
  for (int s = 0; s < 2; ++s)
    for (const char* arm : kArms)
      if (!(s == 1 && std::string(arm) == "pet"))
        write_result(dir.path / ("seed-" + std::to_string(s)) / (std::string("finetune-") + arm), 70, 70, 99);
  try {
    apps::train::write_study_report(dir.path.string());
    FAIL() << "a seed without its pet run was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("seed-1/finetune-pet/results.json"), std::string::npos) << e.what();
  }
  ScratchDir empty;
  EXPECT_THROW(apps::train::write_study_report(empty.path.string()), Error);
}

// The script itself: 2 seeds x (3 pre-trainings + 4 fine-tunings + 4 linear probes) of a 2-block ViT on
// 64 images of 16 px, then the report. Shows the script's seeds, folders and probe wiring work together.
TEST(Study, ScriptRunsEverySeedAndWritesTheTable) {
  ScratchDir dir;
  test::write_pretrain_fixture(dir.path);
  fs::copy(dir.path / "data/train", dir.path / "data/val", fs::copy_options::recursive);
  const std::string cmd = "cd '" + dir.path.string() + "' && MAPET_THREADS=1 SEEDS=2 PRE_EPOCHS=1 FT_EPOCHS=1 " +
                          "PROBE_EPOCHS=2 LABELLED=8 BATCH=8 EMBED_DIM=32 DEPTH=2 HEADS=2 IMG_SIZE=16 PATCH_SIZE=4 " +
                          "DATA=data TOKENS=tokens.bin STUDY_OUT=study bash '" + MAPET_SOURCE_DIR +
                          "/tools/study.sh' '" + MAPET_BINARY + "' > study.log 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << test::read_text(dir / "study.log");
  const nlohmann::json j = nlohmann::json::parse(test::read_text(dir / "study/results.json"));
  EXPECT_EQ(j["seeds"], nlohmann::json({0, 1}));
  ASSERT_EQ(j["finetune"].size(), 4u);
  ASSERT_EQ(j["linear_probe"].size(), 4u);
  EXPECT_EQ(j["settings"]["probe_epochs"], 2);
  for (int s = 0; s < 2; ++s) {
    const fs::path seed = dir.path / "study" / ("seed-" + std::to_string(s));
    const nlohmann::json probe = nlohmann::json::parse(test::read_text((seed / "probe-mapet/results.json").string()));
    EXPECT_EQ(probe["protocol"], "linear_probe");
    EXPECT_NE(test::read_text((seed / "pretrain-pet/config.yaml").string()).find("seed: " + std::to_string(s)),
              std::string::npos);
  }
  EXPECT_TRUE(fs::exists(dir.path / "study/results.png"));
}

}  // namespace
}  // namespace mapet
