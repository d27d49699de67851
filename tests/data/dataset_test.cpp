// ImageFolder and CSV datasets (torchvision's order), and the token store.
#include "data/dataset.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <fstream>

#include "data/fashion_mnist.h"
#include "data/token_store.h"
#include "engine/tensor.h"
#include "tests/data/data_test_util.h"
#include "tests/test_util.h"

namespace mapet::data {
namespace {

using test::TempDir;

void touch(const std::string& path) { test::write_bytes(path, {0xFF, 0xD8, 0xFF}); }

TEST(ImageFolder, ClassesAndFilesInTorchvisionOrder) {
  TempDir dir;
  for (const char* f : {"zebra/b.jpg", "zebra/a.JPEG", "ant/sub/z.jpg", "ant/y.jpg", "ant/sub/a.png", "Bee/1.jpg",
                        "ant/notes.txt"})
    touch(dir / f);
  test::fs::create_directories(dir / "empty_class");
  Dataset d = load_image_folder(dir.str());
  EXPECT_EQ(d.classes, (std::vector<std::string>{"Bee", "ant", "empty_class", "zebra"}));  // byte order, like sorted()
  std::vector<std::pair<std::string, int64_t>> got;
  for (const Sample& s : d.samples) got.emplace_back(s.path, s.label);
  std::vector<std::pair<std::string, int64_t>> want = {
      {"Bee/1.jpg", 0}, {"ant/y.jpg", 1}, {"ant/sub/a.png", 1}, {"ant/sub/z.jpg", 1}, {"zebra/a.JPEG", 3}, {"zebra/b.jpg", 3}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(d.num_classes(), 4);
  EXPECT_EQ(d.full_path(0), dir.str() + "/Bee/1.jpg");
}

TEST(ImageFolder, MissingOrEmptyFoldersAreClearErrors) {
  TempDir dir;
  EXPECT_THROW(load_image_folder(dir / "nope"), Error);
  try {
    load_image_folder(dir.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.str()), std::string::npos);
  }
}

TEST(CsvDataset, ReadsPathLabelLinesRelativeToRoot) {
  TempDir dir;
  std::ofstream(dir / "train.csv") << "path,label\nimgs/a.jpg,3\n\nimgs/b, with comma.jpg , 0\n";
  Dataset d = load_dataset(dir / "train.csv");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.samples[0].path, "imgs/a.jpg");
  EXPECT_EQ(d.samples[0].label, 3);
  EXPECT_EQ(d.samples[1].path, "imgs/b, with comma.jpg");
  EXPECT_EQ(d.full_path(1), dir.str() + "/imgs/b, with comma.jpg");
  EXPECT_EQ(d.num_classes(), 4);
  std::ofstream(dir / "bad.csv") << "a.jpg,1\nb.jpg,cat\n";
  try {
    load_csv(dir / "bad.csv", dir.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv' line 2"), std::string::npos) << e.what();
  }
}

// Issue #17 D: a label of INT64_MAX made num_classes() overflow to a negative count.
TEST(CsvDataset, RefusesLabelsBeyondTheClassLimit) {
  TempDir dir;
  for (const char* label : {"9223372036854775807", "99999999999999999999", "1000000"}) {
    std::ofstream(dir / "big.csv") << "a.jpg,1\nb.jpg," << label << "\n";
    try {
      load_csv(dir / "big.csv", dir.str());
      ADD_FAILURE() << label << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("big.csv' line 2"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("0..999999"), std::string::npos) << e.what();
    }
  }
  std::ofstream(dir / "ok.csv") << "a.jpg,999999\n";
  EXPECT_EQ(load_csv(dir / "ok.csv", dir.str()).num_classes(), 1000000);
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

std::vector<uint8_t> be32s(std::initializer_list<uint32_t> values) {
  std::vector<uint8_t> out;
  for (uint32_t v : values)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  return out;
}

// Issue #17: 65537 images of 12648448 x 22253377 pixels is 2^64 + 65536 bytes, which wrapped to the 65536 there are.
TEST(FashionMnist, RefusesAHeaderWhoseSizeWraps) {
  TempDir dir;
  std::vector<uint8_t> images = be32s({0x803, 65537, 12648448, 22253377});
  images.resize(images.size() + 65536);
  std::vector<uint8_t> labels = be32s({0x801, 65537});
  labels.resize(labels.size() + 65537);
  write_gz(dir / "train-images-idx3-ubyte.gz", images);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels);
  try {
    load_fashion_mnist("train", dir.str());
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train-images-idx3-ubyte.gz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("12648448x22253377"), std::string::npos) << e.what();
  }
}

TEST(Dataset, FileListHashSeesOrderNamesAndLabels) {
  Dataset a;
  a.samples = {{"x/1.jpg", 0}, {"y/2.jpg", 1}};
  Dataset b = a, c = a, e = a;
  std::swap(b.samples[0], b.samples[1]);
  c.samples[1].label = 0;
  e.samples[1].path = "y/3.jpg";
  EXPECT_NE(a.file_list_hash(), b.file_list_hash());
  EXPECT_NE(a.file_list_hash(), c.file_list_hash());
  EXPECT_NE(a.file_list_hash(), e.file_list_hash());
  EXPECT_EQ(a.file_list_hash(), Dataset(a).file_list_hash());
}

TEST(TokenStore, WritesAndMapsRows) {
  TempDir dir;
  const std::string path = dir / "tokens.bin";
  TokenStoreHeader h{5, 4, 8192, 0x1234};
  {
    TokenStoreWriter w(path, h);
    for (uint64_t i = 5; i-- > 0;) {  // any order
      uint16_t row[4] = {uint16_t(i), uint16_t(i * 10), uint16_t(8191), uint16_t(i + 1)};
      w.set(i, row);
    }
    uint16_t bad[4] = {0, 0, 8192, 0};
    EXPECT_THROW(w.set(0, bad), Error);
    w.finish();
  }
  EXPECT_EQ(mapet::test::temp_file_in(dir.str()), "");
  TokenStore s(path);
  EXPECT_EQ(s.header().count, 5u);
  EXPECT_EQ(s.header().tokens_per_image, 4u);
  EXPECT_EQ(s.header().vocab_size, 8192u);
  EXPECT_EQ(s.row(3)[1], 30);
  EXPECT_EQ(s.row(4)[3], 5);
  EXPECT_NO_THROW(s.check_matches(0x1234, 5, "ds", 4));
  EXPECT_THROW(s.row(5), Error);
}

TEST(TokenStore, RefusesAMismatchedOrDamagedStore) {
  TempDir dir;
  const std::string path = dir / "tokens.bin";
  {
    TokenStoreWriter w(path, TokenStoreHeader{3, 2, 16, 42});
    w.finish();
  }
  TokenStore s(path);
  auto message = [&](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message([&] { s.check_matches(43, 3, "imagenet/train"); });
  EXPECT_NE(m.find("different file list"), std::string::npos) << m;
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("imagenet/train"), std::string::npos) << m;
  m = message([&] { s.check_matches(42, 4, "ds"); });
  EXPECT_NE(m.find("3 images"), std::string::npos) << m;
  m = message([&] { s.check_matches(42, 3, "ds", 196); });
  EXPECT_NE(m.find("196"), std::string::npos) << m;

  test::fs::resize_file(path, 64 + 3 * 2 * 2 - 1);
  m = message([&] { TokenStore t(path); });
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  test::write_bytes(dir / "junk.bin", std::vector<uint8_t>(100, 7));
  m = message([&] { TokenStore t(dir / "junk.bin"); });
  EXPECT_NE(m.find("not a mapet token store"), std::string::npos) << m;
  m = message([&] { TokenStore t(dir / "missing.bin"); });
  EXPECT_NE(m.find("missing.bin"), std::string::npos) << m;
}

// Issue #17 F: the reader took any header: a count whose byte size wraps to the real file size
// (rows then read far outside the mapping) and a vocabulary of 64M (pre-training then sized its decoder by it).
TEST(TokenStore, RefusesCraftedHeaders) {
  TempDir dir;
  const std::string path = dir / "tokens.bin";
  {
    TokenStoreWriter w(path, TokenStoreHeader{3, 2, 16, 42});
    w.finish();
  }
  auto patched = [&](size_t at, uint64_t value, int bytes) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(reinterpret_cast<const char*>(&value), bytes);
  };
  auto message = [&] {
    try {
      TokenStore t(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  patched(16, (uint64_t{1} << 62) + 3, 8);  // count: x 2 tokens x 2 bytes wraps to the 12 bytes there are
  std::string m = message();
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("4611686018427387907 images"), std::string::npos) << m;
  patched(16, 3, 8);
  EXPECT_EQ(message(), "no error");
  patched(24, 64u << 20, 4);  // vocabulary
  m = message();
  EXPECT_NE(m.find("vocabulary of 67108864"), std::string::npos) << m;
}

TEST(TokenStore, UnfinishedWriterLeavesNoFile) {
  TempDir dir;
  { TokenStoreWriter w(dir / "t.bin", TokenStoreHeader{3, 2, 16, 42}); }
  EXPECT_FALSE(test::fs::exists(dir / "t.bin"));
  EXPECT_EQ(mapet::test::temp_file_in(dir.str()), "");
}

}  // namespace
}  // namespace mapet::data
