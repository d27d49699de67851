// Sizes from files (engine/checked.h): products that overflow are errors, never
// wrapped-around small sizes; impossible allocations fail at once, with a message.
#include "engine/checked.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <new>

#include "engine/allocator.h"

namespace mapet {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Checked, ArithmeticRefusesOverflow) {
  EXPECT_EQ(checked_mul(int64_t{3}, int64_t{5}, "x"), 15);
  EXPECT_EQ(checked_add(kMax - 1, int64_t{1}, "x"), kMax);
  std::string msg = error_of([] { checked_mul(int64_t{1} << 62, int64_t{4}, "'f.bin', field 'n'"); });
  EXPECT_NE(msg.find("'f.bin', field 'n'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { checked_add(kMax, int64_t{1}, "x"); }), "(no error)");
  EXPECT_NE(error_of([] { checked_mul(uint64_t{1} << 32, uint64_t{1} << 32, "x"); }), "(no error)");
  EXPECT_EQ(checked_numel({3, 0, kMax}, 4, "x"), 0);  // empty: nothing to overflow
  EXPECT_NE(error_of([] { checked_numel({kMax / 2 + 1}, 2, "x"); }), "(no error)");
  EXPECT_NE(error_of([] { checked_numel({2, -1}, 1, "x"); }).find("negative"), std::string::npos);
}

TEST(Checked, ParseInt64TakesWholeNumbersOnly) {
  int64_t v = 0;
  EXPECT_TRUE(parse_int64(" -42 ", v) && v == -42);
  EXPECT_TRUE(parse_int64("+7", v) && v == 7);
  EXPECT_TRUE(parse_int64("9223372036854775807", v) && v == kMax);
  for (const char* bad : {"", " ", "9223372036854775808", "1e3", "12x", "+-1", "0x10", "--1"})
    EXPECT_FALSE(parse_int64(bad, v)) << bad;
}

// Issue #17 B: [2^62 + 10, 24] has 2^64 x 6 + 240 elements, which wrapped to 240.
TEST(Checked, ShapeWhoseSizeWrapsIsRefused) {
  const Shape huge{(int64_t{1} << 62) + 10, 24};
  EXPECT_NE(error_of([&] { shape_numel(huge); }), "(no error)");
  EXPECT_NE(error_of([&] { contiguous_strides(huge); }), "(no error)");
  std::string msg = error_of([&] { Tensor::empty(huge); });
  EXPECT_NE(msg.find("[4611686018427387914, 24]"), std::string::npos) << msg;
}

// Issue #17 C: round_size looped forever on a request over 2^63 bytes.
TEST(Checked, ImpossibleAllocationFailsAtOnceNamingTheTensor) {
  EXPECT_THROW(host_alloc(std::numeric_limits<size_t>::max() - 100), std::bad_alloc);
  EXPECT_THROW(host_alloc((size_t{1} << 63) + 1), std::bad_alloc);
  std::string msg = error_of([] { Tensor::empty({kMax}, DType::u8); });
  EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("u8[9223372036854775807]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mapet
