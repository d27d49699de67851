// Runs the real `mapet show-batch` on a dataset with train/ and val/ split
// folders, as `mapet prepare` writes them (the README's example).
#include <gtest/gtest.h>

#include <sstream>

#include "tests/apps/run_mapet.h"
#include "tests/data/data_test_util.h"

namespace mapet {
namespace {

using data::test::TempDir;
using test::ProcResult;
using test::run_mapet;

class ShowBatch : public ::testing::Test {
 protected:
  void SetUp() override {
    // train/{shirt,shoe}: 3 images each and one bad file; val/{shirt,shoe}: 2 each.
    for (const auto& [split, n] : {std::pair{"train", 3}, std::pair{"val", 2}})
      for (const char* cls : {"shirt", "shoe"})
        for (int i = 0; i < n; ++i)
          data::test::write_bytes(dir / (std::string(split) + "/" + cls + "/" + std::to_string(i) + ".jpg"),
                                  data::test::jpeg_of(data::test::smooth_image(20, 16, i), 90));
    data::test::write_bytes(dir / "train/shoe/bad.jpg", {1, 2, 3});
  }
  // The sample lines: "<i>  label <n> (<class>)  <path>  box ..."
  static std::vector<std::string> samples(const std::string& out) {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);)
      if (l.find("  label ") != std::string::npos) lines.push_back(l);
    return lines;
  }
  TempDir dir;
};

TEST_F(ShowBatch, TrainReadsTheTrainingSplitOnlyAndCountsBadFiles) {
  ProcResult r = run_mapet("show-batch --data " + dir.str() + " --train -b 6 --out " + (dir / "grid.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("using split folder '" + (dir / "train") + "'"), std::string::npos) << r.output;
  const std::vector<std::string> lines = samples(r.output);
  ASSERT_EQ(lines.size(), 6u) << r.output;
  for (const std::string& l : lines)  // classes, not the split folders taken for classes
    EXPECT_TRUE(l.find("(shirt)") != std::string::npos || l.find("(shoe)") != std::string::npos) << l;
  EXPECT_NE(r.output.find("6 images from '" + (dir / "train") + "' (7 in the dataset); skipped 1 bad file(s)"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train transform: random resized crop"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "grid.png"));
}

TEST_F(ShowBatch, ValReadsTheValidationSplitWithTheEvalTransform) {
  ProcResult r = run_mapet("show-batch --data " + dir.str() + " --val -b 4 --img-size 16 --out " + (dir / "grid.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("using split folder '" + (dir / "val") + "'"), std::string::npos) << r.output;
  const std::vector<std::string> lines = samples(r.output);
  ASSERT_EQ(lines.size(), 4u) << r.output;
  for (const std::string& l : lines)
    EXPECT_TRUE(l.find("(shirt)") != std::string::npos || l.find("(shoe)") != std::string::npos) << l;
  EXPECT_NE(r.output.find("eval transform: resize the shorter side to 17 (bicubic), center crop 16"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("hflip"), std::string::npos) << "training settings in the eval line: " << r.output;
  EXPECT_NE(r.output.find("4 images from '" + (dir / "val") + "' (4 in the dataset); skipped 0 bad file(s)"),
            std::string::npos) << r.output;
}

}  // namespace
}  // namespace mapet
