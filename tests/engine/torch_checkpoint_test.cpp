// The torch.save reader against files PyTorch wrote (tests/fixtures/torch/,
// made by tools/make_torch_fixtures.py), each compared with its safetensors
// twin; damaged and foreign files must be refused with the file named.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/io/pickle.h"
#include "engine/io/state_dict.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/io/zip.h"
#include "tests/engine/torch_bytes.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(MAPET_FIXTURES) + "/torch/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A file in a fresh temporary folder, removed with the object.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& bytes) {
    path = (fs::temp_directory_path() / ("mapet_torch_ckpt_" + std::to_string(std::random_device{}()))).string();
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { std::remove(path.c_str()); }
};

// Same names, dtypes, shapes and bytes.
void expect_same(const io::TensorMap& got, const io::TensorMap& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": missing " << name;
    const Tensor& g = got.at(name);
    EXPECT_EQ(g.dtype(), w.dtype()) << what << ": " << name;
    EXPECT_EQ(g.shape(), w.shape()) << what << ": " << name;
    ASSERT_EQ(g.nbytes(), w.nbytes()) << what << ": " << name;
    EXPECT_TRUE(g.is_contiguous()) << what << ": " << name;
    EXPECT_EQ(std::memcmp(g.raw_data(), w.raw_data(), w.nbytes()), 0) << what << ": values of " << name;
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TorchCheckpoint, MatchesSafetensorsTwinForEveryDtypeAndView) {
  const io::TensorMap twin = io::load_safetensors(fixture("tensors.safetensors"));
  ASSERT_EQ(twin.at("bf16").dtype(), DType::bf16);
  ASSERT_EQ(twin.at("transposed").shape(), (Shape{6, 4}));
  for (const char* name : {"tensors.pth", "tensors_proto4.pth", "tensors_zip64.pth"}) {
    io::LoadedWeights w = io::load_weights(fixture(name));
    EXPECT_EQ(w.format, "torch") << name;
    EXPECT_EQ(w.key, "") << name;
    expect_same(w.tensors, twin, name);
  }
}

TEST(TorchCheckpoint, ViewsKeepTheirValues) {
  io::TensorMap t = io::load_weights(fixture("tensors.pth")).tensors;
  // strided_slice = parent[1:4, 2:7:2], expanded repeats its column, transposed is a transpose.
  const Tensor& parent = t.at("parent");
  const Tensor& slice = t.at("strided_slice");
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(slice.at({i, j}), parent.at({1 + i, 2 + 2 * j}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 1; j < 4; ++j) EXPECT_EQ(t.at("expanded").at({i, j}), t.at("expanded").at({i, 0}));
  EXPECT_EQ(t.at("scalar").dim(), 0);
  EXPECT_EQ(t.at("scalar").item(), 3.5f);
  EXPECT_EQ(t.at("empty").shape(), (Shape{0, 4}));
  EXPECT_EQ(t.at("i64").data<int64_t>()[4], -(int64_t{1} << 50));
}

TEST(TorchCheckpoint, NestedTrainingCheckpointUnwrapsModelAndStripsModulePrefix) {
  const io::TensorMap twin = io::load_safetensors(fixture("tensors.safetensors"));
  io::TensorMap want;
  for (const char* n : {"f32", "f16", "bf16", "transposed"}) want[n] = twin.at(n);

  io::LoadedWeights w = io::load_weights(fixture("nested.pth"));
  EXPECT_EQ(w.key, "model");
  expect_same(w.tensors, want, "nested.pth");
  std::string notes;
  for (const std::string& n : w.notes) notes += n + "\n";
  EXPECT_NE(notes.find("'model'"), std::string::npos) << notes;
  EXPECT_NE(notes.find("module."), std::string::npos) << notes;

  // --use-ema takes model_ema, saved as the negated tensors.
  io::LoadedWeights ema = io::load_weights(fixture("nested.pth"), /*use_ema=*/true);
  EXPECT_EQ(ema.key, "model_ema");
  ASSERT_EQ(ema.tensors.size(), 4u);
  std::vector<float> a = ema.tensors.at("f32").to_vector(), b = want.at("f32").to_vector();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], -b[i]);
}

TEST(TorchCheckpoint, NonTensorObjectsAreReadWithoutRunningThem) {
  io::TorchCheckpoint ckpt(fixture("nested.pth"));
  using K = io::pickle::Value::Kind;
  ASSERT_TRUE(ckpt.root()->is(K::dict));
  io::pickle::ValuePtr args = ckpt.root()->get("args");
  ASSERT_TRUE(args && args->is(K::object));
  EXPECT_EQ(args->callable->text, "argparse.Namespace");
  ASSERT_TRUE(args->state && args->state->is(K::dict));
  EXPECT_EQ(args->state->get("model")->text, "vit_standard_tiny_patch16_224");
  EXPECT_EQ(args->state->get("lr")->floating, 1e-3);
  EXPECT_TRUE(args->state->get("amp")->boolean);
  EXPECT_TRUE(args->state->get("resume")->is(K::none));
  EXPECT_TRUE(args->state->get("seed")->is(K::big_integer));  // 2**70
  EXPECT_EQ(ckpt.root()->get("epoch")->integer, 7);
  EXPECT_TRUE(ckpt.root()->get("metric")->is(K::object));  // numpy.float64: kept opaque
}

TEST(TorchCheckpoint, TruncatedFileIsRefusedNamingIt) {
  const std::string bytes = read_bytes(fixture("tensors.pth"));
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t keep : {size_t{10}, size_t{200}, bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
    TempFile f(bytes.substr(0, keep));
    std::string msg = error_of([&] { io::load_weights(f.path); });
    EXPECT_NE(msg.find(f.path), std::string::npos) << keep << ": " << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << keep << ": " << msg;
  }
}

TEST(TorchCheckpoint, RandomBytesAndEmptyFilesAreClearErrors) {
  std::mt19937 rng(5);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  noise[8] = 'x';  // not a '{', so it cannot pass for a safetensors header
  TempFile f(noise);
  std::string msg = error_of([&] { io::load_weights(f.path); });
  EXPECT_NE(msg.find(f.path), std::string::npos) << msg;
  EXPECT_NE(msg.find("neither a safetensors file nor a PyTorch checkpoint"), std::string::npos) << msg;

  TempFile empty("");
  msg = error_of([&] { io::load_weights(empty.path); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;

  msg = error_of([&] { io::load_weights("/nonexistent/model.pth"); });
  EXPECT_NE(msg.find("/nonexistent/model.pth"), std::string::npos) << msg;
}

TEST(TorchCheckpoint, CorruptStorageFailsItsCrc) {
  std::string bytes = read_bytes(fixture("tensors.pth"));
  io::ZipArchive zip(fixture("tensors.pth"));
  const io::ZipEntry* e = zip.find("tensors/data/0");
  ASSERT_NE(e, nullptr);
  // Flip one byte in the middle of storage 0's data: find it by content.
  const uint8_t* d = zip.data(*e);
  const std::string payload(reinterpret_cast<const char*>(d), e->size);
  const size_t pos = bytes.find(payload);
  ASSERT_NE(pos, std::string::npos);
  bytes[pos + e->size / 2] ^= 0x40;
  TempFile f(bytes);
  std::string msg = error_of([&] { io::load_weights(f.path); });
  EXPECT_NE(msg.find("CRC-32"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensors/data/0"), std::string::npos) << msg;
}

TEST(TorchCheckpoint, ViewOutsideItsStorageIsRefused) {
  std::string msg = error_of([&] { io::load_weights(fixture("bad_view.pth")); });
  EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reaches outside its storage of 4 elements"), std::string::npos) << msg;
}

// {"w": FloatStorage '0' of storage_numel elements viewed as size/stride, ...extra entries}.
std::string one_tensor_file(int64_t storage_numel, const std::string& storage, const std::vector<int64_t>& size,
                            const std::vector<int64_t>& stride, const std::string& extra_entries = "") {
  test::Pickle p;
  p.op('}').op('(').str("w").tensor("0", storage_numel, 0, size, stride);
  p.b += extra_entries;
  return test::torch_file(p.op('u').done(), {{"0", storage}});
}

TEST(TorchCheckpoint, HandMadeFileLoads) {
  std::string floats;
  for (float f : {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}) floats.append(reinterpret_cast<const char*>(&f), 4);
  TempFile f(one_tensor_file(6, floats, {3, 2}, {1, 3}));  // a transpose
  io::LoadedWeights w = io::load_weights(f.path);
  ASSERT_EQ(w.tensors.at("w").shape(), (Shape{3, 2}));
  EXPECT_EQ(w.tensors.at("w").to_vector(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_TRUE(w.warnings.empty());
}

// Issue #17 A: a FloatStorage of 2^62 elements is 2^64 bytes, which wrapped to 0 and matched an empty entry;
// the view then read (or, in the gather, wrote) far past the data.
TEST(TorchCheckpoint, StorageSizeThatOverflowsIsRefused) {
  for (const std::vector<int64_t>& size : {std::vector<int64_t>{4}, std::vector<int64_t>{int64_t{1} << 40}}) {
    TempFile f(one_tensor_file(int64_t{1} << 62, "", size, {1}));
    std::string msg = error_of([&] { io::load_weights(f.path); });
    EXPECT_NE(msg.find(f.path), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("storage"), std::string::npos) << msg;
  }
}

TEST(TorchCheckpoint, CodeRunningGlobalIsRefusedAndOtherUnknownGlobalsWarn) {
  std::string floats(8, '\0');
  test::Pickle attack;
  attack.str("x").global("os", "system").op('(').str("echo pwned").op('t').op('R');
  TempFile bad(one_tensor_file(2, floats, {2}, {1}, attack.b.substr(2)));
  std::string msg = error_of([&] { io::load_weights(bad.path); });
  EXPECT_NE(msg.find("os.system"), std::string::npos) << msg;
  EXPECT_NE(msg.find(bad.path), std::string::npos) << msg;

  test::Pickle odd;
  odd.str("x").global("mytrainer", "Thing").op(')').op('R');
  TempFile unknown(one_tensor_file(2, floats, {2}, {1}, odd.b.substr(2)));
  io::LoadedWeights w = io::load_weights(unknown.path);
  EXPECT_EQ(w.tensors.size(), 1u);
  ASSERT_EQ(w.warnings.size(), 1u);
  EXPECT_NE(w.warnings[0].find("mytrainer.Thing"), std::string::npos) << w.warnings[0];
  EXPECT_NE(w.warnings[0].find("weights_only"), std::string::npos) << w.warnings[0];
  EXPECT_TRUE(io::load_weights(fixture("nested.pth")).warnings.empty());  // argparse.Namespace, numpy: expected
}

TEST(TorchCheckpoint, FolderIsNamedAsAFolder) {
  std::string msg = error_of([&] { io::load_weights(fs::temp_directory_path().string()); });
  EXPECT_NE(msg.find("is a folder"), std::string::npos) << msg;
}

TEST(TorchCheckpoint, LegacyFormatIsRefusedWithAdvice) {
  const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  TempFile f(std::string(reinterpret_cast<const char*>(magic), sizeof magic));
  std::string msg = error_of([&] { io::load_weights(f.path); });
  EXPECT_NE(msg.find("legacy torch.save"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f.path), std::string::npos) << msg;
}

TEST(Zip, Crc32CheckValue) {
  const char* s = "123456789";  // the standard check input of CRC-32/ISO-HDLC
  EXPECT_EQ(io::crc32(reinterpret_cast<const uint8_t*>(s), 9), 0xCBF43926u);
}

io::pickle::ValuePtr unpickle(const std::vector<uint8_t>& bytes) {
  return io::pickle::load(bytes.data(), bytes.size(), "test");
}

TEST(Pickle, IntegersFloatsAndSharedMemo) {
  using K = io::pickle::Value::Kind;
  // [LONG1 -1, LONG1 0x80 0x00 (128), BININT -2, BINFLOAT 1.5, memoised list appended to itself... ]
  std::vector<uint8_t> p{0x80, 0x02, ']', 'q', 0x00, '(',
                         0x8a, 0x01, 0xff,                               // -1
                         0x8a, 0x02, 0x80, 0x00,                         // 128
                         'J', 0xfe, 0xff, 0xff, 0xff,                    // -2
                         'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,              // 1.5 (big-endian)
                         'M', 0x34, 0x12,                                // 0x1234
                         'h', 0x00,                                      // the list itself, from the memo
                         'e', '.'};
  io::pickle::ValuePtr v = unpickle(p);
  ASSERT_TRUE(v->is(K::list));
  ASSERT_EQ(v->items.size(), 6u);
  EXPECT_EQ(v->items[0]->integer, -1);
  EXPECT_EQ(v->items[1]->integer, 128);
  EXPECT_EQ(v->items[2]->integer, -2);
  EXPECT_EQ(v->items[3]->floating, 1.5);
  EXPECT_EQ(v->items[4]->integer, 0x1234);
  EXPECT_EQ(v->items[5].get(), v.get());  // the same object, not a copy
}

TEST(Pickle, UnsupportedOpcodeIsNamedWithItsOffset) {
  std::vector<uint8_t> text_int{0x80, 0x02, 'I', '4', '2', '\n', '.'};  // protocol-0 INT
  std::string msg = error_of([&] { unpickle(text_int); });
  EXPECT_NE(msg.find("INT"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test"), std::string::npos) << msg;

  msg = error_of([&] { unpickle({0x80, 0x02, 0xff}); });
  EXPECT_NE(msg.find("unknown opcode"), std::string::npos) << msg;
  msg = error_of([&] { unpickle({0x80, 0x02, 'X', 0x10, 0, 0, 0, 'a'}); });  // string longer than the data
  EXPECT_NE(msg.find("BINUNICODE"), std::string::npos) << msg;
  msg = error_of([&] { unpickle({0x80, 0x02, 'N'}); });
  EXPECT_NE(msg.find("without a STOP"), std::string::npos) << msg;
  msg = error_of([&] { unpickle({0x80, 0x02, 't', '.'}); });
  EXPECT_NE(msg.find("MARK"), std::string::npos) << msg;
}

// Issue #17 E: 1M nested tuples (1 MB) overflowed the stack in the recursive destructor.
TEST(Pickle, DeepNestingIsRefused) {
  std::vector<uint8_t> p{0x80, 0x02, 'N'};
  p.insert(p.end(), 1000000, 0x85);  // TUPLE1: wrap the top of the stack in a tuple
  p.push_back('.');
  std::string msg = error_of([&] { unpickle(p); });
  EXPECT_NE(msg.find("nested more than"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test"), std::string::npos) << msg;

  std::vector<uint8_t> ok{0x80, 0x02, 'N'};
  ok.insert(ok.end(), io::pickle::kMaxDepth - 1, 0x85);
  ok.push_back('.');
  EXPECT_EQ(unpickle(ok)->depth, io::pickle::kMaxDepth);
}

// Issue #17 E: a list holding itself (through the memo) leaked.
TEST(Pickle, MemoCyclesAreFreedWithTheRoot) {
  std::vector<uint8_t> p{0x80, 0x02, ']', 'q', 0x00, 'h', 0x00, 'a', ']', 'q', 0x01, 'h', 0x01, 'a', 'N', 0x86, '.'};
  io::pickle::ValuePtr root = unpickle(p);  // (L1, None) with L1 = [L1] (and L0 = [L0] left on the stack)
  ASSERT_TRUE(root->is(io::pickle::Value::Kind::tuple));
  std::weak_ptr<io::pickle::Value> inner = root->items[0];
  ASSERT_EQ(inner.lock()->items[0].get(), inner.lock().get());
  root.reset();
  EXPECT_TRUE(inner.expired());
}

}  // namespace
}  // namespace mapet
