// .npy reading and writing: headers byte-for-byte as NumPy 1.24 writes them,
// round trips of every written type, the integer widths other tools write
// (tokens as u2/i4), and refusals that name the file.
#include "engine/io/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace mapet::io {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("mapet_npy_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A header as NumPy writes it: magic, version 1.0, length, dict padded to 64 bytes.
std::string numpy_file(const std::string& dict, const std::string& data) {
  std::string h = dict;
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + data;
}

TEST(Npy, HeaderMatchesNumpy) {
  // Prefixes of np.save(...) output (NumPy 1.24.2), and its total sizes.
  Tensor a = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  std::string b = npy_bytes(a);
  EXPECT_EQ(b.size(), 152u);
  EXPECT_EQ(b.substr(0, 10), std::string("\x93NUMPY\x01\x00v\x00", 10));
  auto dict_of = [](const std::string& bytes) { return bytes.substr(10, bytes.find('}') - 9); };
  EXPECT_EQ(dict_of(b), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(b[127], '\n');

  std::string c = npy_bytes(Tensor::from_vector(std::vector<int64_t>{7, -1, 3}, {3}));
  EXPECT_EQ(c.size(), 152u);
  EXPECT_EQ(dict_of(c), "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }");

  EXPECT_EQ(npy_bytes(Tensor::zeros({0, 4}, DType::u8)).size(), 128u);
  EXPECT_EQ(dict_of(npy_bytes(Tensor::zeros({}, DType::i32))),
            "{'descr': '<i4', 'fortran_order': False, 'shape': (), }");
}

TEST(Npy, RoundTripsEveryWrittenType) {
  const std::string p = temp_path("rt.npy");
  Tensor f = Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, 7.0f}, {3, 1, 2});
  save_npy(p, f);
  Tensor g = load_npy(p);
  EXPECT_EQ(g.dtype(), DType::f32);
  EXPECT_EQ(g.shape(), f.shape());
  EXPECT_EQ(g.to_vector(), f.to_vector());

  Tensor i = Tensor::from_vector(std::vector<int64_t>{INT64_MIN, -1, 0, INT64_MAX}, {2, 2});
  save_npy(p, i);
  Tensor j = load_npy(p);
  ASSERT_EQ(j.dtype(), DType::i64);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(j.data<int64_t>()[k], i.data<int64_t>()[k]);

  Tensor u = Tensor::empty({5}, DType::u8);
  for (int k = 0; k < 5; ++k) u.data<uint8_t>()[k] = static_cast<uint8_t>(k * 60);
  save_npy(p, u);
  Tensor v = load_npy(p);
  ASSERT_EQ(v.dtype(), DType::u8);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(v.data<uint8_t>()[k], k * 60);

  // A non-contiguous view is written in its logical order.
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);
  save_npy(p, t);
  EXPECT_EQ(load_npy(p).to_vector(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  NpyInfo info = read_npy_info(p);
  EXPECT_EQ(info.shape, (Shape{3, 2}));
  EXPECT_EQ(info.descr, "<f4");
  EXPECT_EQ(info.data_offset, 128u);
  fs::remove(p);
}

TEST(Npy, WidensOtherIntegerTypes) {
  const std::string p = temp_path("u2.npy");
  const uint16_t u2[3] = {0, 8191, 65535};
  write_raw(p, numpy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 3), }",
                          std::string(reinterpret_cast<const char*>(u2), 6)));
  Tensor t = load_npy(p);
  ASSERT_EQ(t.dtype(), DType::i64);
  EXPECT_EQ(t.shape(), (Shape{1, 3}));
  EXPECT_EQ(t.data<int64_t>()[1], 8191);
  EXPECT_EQ(t.data<int64_t>()[2], 65535);

  const int16_t i2[2] = {-5, 300};
  write_raw(p, numpy_file("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }",
                          std::string(reinterpret_cast<const char*>(i2), 4)));
  t = load_npy(p);
  EXPECT_EQ(t.data<int64_t>()[0], -5);
  EXPECT_EQ(t.data<int64_t>()[1], 300);

  const double f8[2] = {0.5, -3.0};
  write_raw(p, numpy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                          std::string(reinterpret_cast<const char*>(f8), 16)));
  t = load_npy(p);
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0.5f, -3.0f}));
  fs::remove(p);
}

void expect_error(const std::string& path, const std::string& bytes, const std::string& fragment) {
  write_raw(path, bytes);
  try {
    load_npy(path);
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
  }
}

TEST(Npy, RefusesWhatItCannotReadNamingTheFile) {
  const std::string p = temp_path("bad.npy");
  expect_error(p, "PK\x03\x04 not numpy", "not a .npy file");
  expect_error(p, numpy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd"), "little-endian");
  expect_error(p, numpy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd"), "Fortran");
  expect_error(p, numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "abcd"), "truncated");
  expect_error(p, numpy_file("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "abcdefgh"), "'<c8'");
  expect_error(p, numpy_file("{'descr': '<f4', 'shape': (1,), }", "abcd"), "lacks");
  expect_error(p, numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }", "abcd"), "malformed");
  std::string big(8, '\xff');
  expect_error(p, numpy_file("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", big), "does not fit");
  // Issue #17: shapes whose element count overflows (it wrapped to the data's size) and dimensions beyond
  // int64 (the message was "stoll").
  expect_error(p, numpy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2305843009213693953, 8), }",
                             std::string(64, '\0')),
               "[2305843009213693953, 8]");
  expect_error(p, numpy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "abcdefgh"),
               "99999999999999999999 is too large");
  expect_error(p, numpy_file("{'descr': '<f4294967300', 'fortran_order': False, 'shape': (1,), }", "abcd"), "readable");
  fs::remove(p);
  EXPECT_THROW(save_npy(p, Tensor::zeros({2}, DType::bf16)), Error);
  EXPECT_THROW(load_npy(temp_path("missing.npy")), Error);
}

}  // namespace
}  // namespace mapet::io
