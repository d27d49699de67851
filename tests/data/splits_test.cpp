// The split-folder rule every command uses (data/splits.h).
#include "data/splits.h"

#include "engine/tensor.h"
#include "tests/data/data_test_util.h"

namespace mapet::data {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TEST(Splits, NamedSplitThenSynonymsThenTheFolderItself) {
  TempDir dir;
  fs::create_directories(dir / "a/train/cls");
  fs::create_directories(dir / "a/val/cls");
  EXPECT_EQ(split_folder(dir / "a", "train"), dir / "a/train");
  EXPECT_EQ(split_folder(dir / "a", "validation"), dir / "a/val");  // timm's default eval split name
  EXPECT_EQ(split_folder(dir / "a", "val"), dir / "a/val");

  fs::create_directories(dir / "b/training/cls");
  fs::create_directories(dir / "b/eval/cls");
  EXPECT_EQ(split_folder(dir / "b", "train"), dir / "b/training");
  EXPECT_EQ(split_folder(dir / "b", "validation"), dir / "b/eval");

  fs::create_directories(dir / "c/shirt");  // an ImageFolder of classes, no splits
  fs::create_directories(dir / "c/shoe");
  EXPECT_EQ(split_folder(dir / "c", "train"), dir / "c");
  EXPECT_EQ(split_folder(dir / "c", "validation"), dir / "c");
  EXPECT_EQ(find_split_folder(dir / "c", "train"), "");
}

TEST(Splits, AFolderWithOtherSplitsIsNotReadAsClasses) {
  TempDir dir;
  fs::create_directories(dir / "only_train/train/cls");
  try {
    split_folder(dir / "only_train", "validation");
    FAIL() << "train/ would have been read as a class";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(dir / "only_train"), std::string::npos) << m;
    EXPECT_NE(m.find("train/"), std::string::npos) << m;
  }
  EXPECT_EQ(find_split_folder(dir / "only_train", "validation"), "");
  EXPECT_EQ(split_folder(dir / "only_train", "train"), dir / "only_train/train");
}

}  // namespace
}  // namespace mapet::data
