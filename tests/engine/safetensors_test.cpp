// safetensors (engine/io/safetensors.h): exact round trips, and errors that
// name the file and the tensor or parameter at fault.
#include "engine/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/nn/layers.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mapet_st_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Expects f() to throw a mapet::Error whose message contains every one of `parts`.
  template <class F>
  void expect_error(F f, const std::vector<std::string>& parts) {
    try {
      f();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a mapet::Error: " << e.what();
    }
  }

  void write_raw(const std::string& file, const std::string& header, const std::string& data = "") {
    std::ofstream f(file, std::ios::binary);
    uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header << data;
  }

  fs::path dir_;
};

TEST_F(Safetensors, RoundTripIsExactForEveryDtype) {
  Tensor f = test::randn({13, 7}, test::fresh_seed());
  Tensor bf = f.to(DType::bf16), idx = Tensor::from_vector(std::vector<int64_t>{-3, int64_t{1} << 60, 7}, {3});
  Tensor u8 = Tensor::empty({2, 3}, DType::u8);
  for (int i = 0; i < 6; ++i) u8.data<uint8_t>()[i] = static_cast<uint8_t>(i * 51);
  io::TensorMap in{
      {"f32", f.transpose(0, 1)}, {"bf16", bf}, {"i64", idx}, {"u8", u8}, {"empty", Tensor::empty({0, 4})}};
  const std::string file = path("a.safetensors");
  io::save_safetensors(file, in, {{"format", "pt"}});
  EXPECT_EQ(test::temp_file_in(dir_.string()), "");
  io::TensorMap out = io::load_safetensors(file);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    SCOPED_TRACE(name);
    const Tensor& got = out.at(name);
    ASSERT_EQ(got.dtype(), t.dtype());
    ASSERT_EQ(got.shape(), t.shape());
    Tensor want = t.contiguous();
    EXPECT_EQ(0, std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()));
  }
  EXPECT_EQ(io::safetensors_metadata(file).at("format"), "pt");
}

TEST_F(Safetensors, TruncatedFileNamesTheFile) {
  const std::string file = path("cut.safetensors");
  io::save_safetensors(file, {{"w", Tensor::full({67}, 1.0f)}});
  const auto size = fs::file_size(file);
  fs::resize_file(file, size - 5);  // inside the data
  expect_error([&] { io::load_safetensors(file); }, {file, "'w'", "truncated"});
  fs::resize_file(file, 20);  // inside the header
  expect_error([&] { io::load_safetensors(file); }, {file, "truncated"});
  fs::resize_file(file, 3);  // not even the header length
  expect_error([&] { io::load_safetensors(file); }, {file});
  expect_error([&] { io::load_safetensors(path("missing.safetensors")); }, {"missing.safetensors"});
}

TEST_F(Safetensors, BadHeaderNamesTheFile) {
  const std::string file = path("bad.safetensors");
  write_raw(file, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2]");  // not JSON
  expect_error([&] { io::load_safetensors(file); }, {file, "JSON"});
  write_raw(file, "[1, 2]");
  expect_error([&] { io::load_safetensors(file); }, {file});
  // Valid JSON with fields of the wrong type or values.
  for (const char* h :
       {R"({"w": {"dtype": "F32", "shape": "two", "data_offsets": [0, 8]}})",
        R"({"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}})", R"({"w": {"dtype": "F32", "shape": [2]}})",
        R"({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})",
        R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
        R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})"}) {
    SCOPED_TRACE(h);
    write_raw(file, h, std::string(8, '\0'));
    expect_error([&] { io::load_safetensors(file); }, {file, "'w'"});
  }
}

// Issue #17 B and F: the shape's byte count wrapped around ([2^62 + 10, 24] of F32 "needs" 960 bytes) and
// the tensor was allocated before the byte count was checked ([2^63 - 1] of U8 hung in the allocator).
TEST_F(Safetensors, ShapeThatOverflowsIsRefusedBeforeAllocating) {
  const std::string file = path("huge.safetensors");
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [4611686018427387914, 24], "data_offsets": [0, 960]}})",
            std::string(960, '\0'));
  expect_error([&] { io::load_safetensors(file); }, {file, "'w'", "[4611686018427387914, 24]"});
  write_raw(file, R"({"w": {"dtype": "U8", "shape": [9223372036854775807], "data_offsets": [0, 8]}})",
            std::string(8, '\0'));
  expect_error([&] { io::load_safetensors(file); }, {file, "'w'", "needs 9223372036854775807"});
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [1e30], "data_offsets": [0, 8]}})", std::string(8, '\0'));
  expect_error([&] { io::load_safetensors(file); }, {file, "'w'", "shape"});
}

// As the reference loader: the tensors must tile the data exactly (no gap, overlap or trailing bytes).
TEST_F(Safetensors, OffsetsMustTileTheData) {
  const std::string file = path("tiles.safetensors");
  const std::string a = R"("a": {"dtype": "F32", "shape": [2], "data_offsets": )";
  const std::string b = R"("b": {"dtype": "F32", "shape": [1], "data_offsets": )";
  write_raw(file, "{" + a + "[0, 8]}, " + b + "[8, 12]}}", std::string(12, '\0'));
  EXPECT_EQ(io::load_safetensors(file).size(), 2u);
  write_raw(file, "{" + a + "[4, 12]}}", std::string(12, '\0'));  // shifted: a gap at the start
  expect_error([&] { io::load_safetensors(file); }, {file, "'a'", "gap"});
  write_raw(file, "{" + a + "[0, 8]}, " + b + "[4, 8]}}", std::string(8, '\0'));
  expect_error([&] { io::load_safetensors(file); }, {file, "overlap"});
  write_raw(file, "{" + a + "[0, 8]}}", std::string(12, '\0'));
  expect_error([&] { io::load_safetensors(file); }, {file, "8 of the 12"});
}

TEST_F(Safetensors, LoadIntoReportsMissingUnexpectedAndWrongShape) {
  nn::Linear layer(3, 4);
  Tensor w = test::randn({4, 3}, test::fresh_seed()), b = test::randn({4}, test::fresh_seed());
  expect_error([&] { io::load_into(layer, {{"weight", w}}, "ckpt.safetensors"); }, {"ckpt.safetensors", "'bias'"});
  expect_error(
      [&] {
        io::load_into(layer, {{"weight", w}, {"bias", b}, {"extra", b}}, "ckpt.safetensors");
      },
      {"ckpt.safetensors", "'extra'"});
  expect_error(
      [&] {
        io::load_into(layer, {{"weight", w.transpose(0, 1)}, {"bias", b}}, "ckpt.safetensors");
      },
      {"ckpt.safetensors", "'weight'", "[3, 4]"});
  expect_error(
      [&] {
        io::load_into(layer, {{"weight", w.to(DType::i64)}, {"bias", b}}, "ckpt.safetensors");
      },
      {"'weight'", "i64"});
  // A failed load leaves the parameters as they were.
  EXPECT_EQ(layer.weight.value().to_vector(), std::vector<float>(12, 0.0f));

  io::load_into(layer, {{"weight", w.to(DType::bf16)}, {"bias", b}, {"extra", b}}, "ckpt", /*allow_unexpected=*/true);
  EXPECT_EQ(layer.weight.value().to_vector(), w.to(DType::bf16).to_vector());
  EXPECT_EQ(layer.bias.value().to_vector(), b.to_vector());
  // state_dict -> file -> load_into is the identity.
  io::save_safetensors(path("l.safetensors"), io::state_dict(layer));
  nn::Linear copy(3, 4);
  io::load_into(copy, io::load_safetensors(path("l.safetensors")), "l.safetensors");
  EXPECT_EQ(copy.weight.value().to_vector(), layer.weight.value().to_vector());
}

}  // namespace
}  // namespace mapet
