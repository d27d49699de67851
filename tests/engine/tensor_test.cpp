// Tensor (engine/tensor.h): views share storage, strided copies across dtypes,
// clone, and the errors of bad views.
#include "engine/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "engine/half.h"

namespace mapet {
namespace {

Tensor iota(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector(v, s);
}

TEST(Tensor, ViewsShareStorageAndIndexCorrectly) {
  Tensor x = iota({2, 3, 4});  // x[i, j, k] = 12 i + 4 j + k
  Tensor s = x.slice(1, 1, 3), t = x.transpose(0, 2), p = x.permute({1, 2, 0}), sel = x.select(2, 3),
         u = x.unsqueeze(1), v = x.view({6, -1});
  for (const Tensor* view : {&s, &t, &p, &sel, &u, &v}) EXPECT_TRUE(view->shares_storage(x));
  EXPECT_EQ(s.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(s.at({1, 0, 2}), 12 + 4 + 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.at({3, 1, 0}), 4 + 3);
  EXPECT_EQ(p.shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(p.at({2, 1, 1}), 12 + 8 + 1);
  EXPECT_EQ(sel.shape(), (Shape{2, 3}));
  EXPECT_EQ(sel.at({1, 2}), 12 + 8 + 3);
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(u.at({1, 0, 2, 1}), 12 + 8 + 1);
  EXPECT_TRUE(u.is_contiguous());
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(v.at({5, 3}), 23);
  // Writes through a view reach the base tensor.
  s.fill_(-1.0f);
  EXPECT_EQ(x.at({0, 1, 0}), -1.0f);
  EXPECT_EQ(x.at({0, 0, 3}), 3.0f);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.contiguous().to_vector(), t.to_vector());
  EXPECT_FALSE(t.contiguous().shares_storage(x));
}

TEST(Tensor, CloneIsIndependent) {
  Tensor x = iota({3, 5});
  Tensor c = x.transpose(0, 1).clone();
  EXPECT_FALSE(c.shares_storage(x));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.at({4, 2}), 14.0f);
  x.fill_(0.0f);
  EXPECT_EQ(c.at({4, 2}), 14.0f);
}

TEST(Tensor, CopyAcrossStridesAndDtypes) {
  Tensor x = iota({3, 4, 5});
  x.view({-1}).slice(0, 0, 1).fill_(-2.5f);  // a negative, fractional value too
  const Tensor src = x.permute({2, 0, 1});   // [5, 3, 4], strided
  const std::vector<float> want = src.to_vector();
  for (DType t : {DType::f32, DType::bf16, DType::f16, DType::i64, DType::i32}) {
    SCOPED_TRACE(dtype_name(t));
    Tensor dst = Tensor::empty({5, 3, 4}, t);
    dst.copy_(src);
    std::vector<float> got = dst.to_vector();
    for (size_t i = 0; i < want.size(); ++i) {  // small integers and -2.5 are exact in every float type
      float w = (t == DType::i64 || t == DType::i32) ? std::trunc(want[i]) : want[i];
      ASSERT_EQ(got[i], w) << "element " << i;
    }
    // ...and back into a strided f32 destination.
    Tensor back = Tensor::zeros({4, 3, 5}).permute({2, 1, 0});  // [5, 3, 4] with odd strides
    back.copy_(dst);
    EXPECT_EQ(back.to_vector(), got);
  }
}

TEST(Tensor, Int64StridedCopyKeepsAllBits) {
  const std::vector<int64_t> v{(int64_t{1} << 53) + 1, -7, int64_t{1} << 40, 3, 5, -(int64_t{1} << 62)};
  Tensor x = Tensor::from_vector(v, {2, 3});
  Tensor t = x.transpose(0, 1).clone();
  EXPECT_EQ(t.dtype(), DType::i64);
  EXPECT_EQ(t.data<int64_t>()[0], v[0]);
  EXPECT_EQ(t.data<int64_t>()[1], v[3]);
  EXPECT_EQ(t.data<int64_t>()[4], v[2]);
  EXPECT_EQ(t.data<int64_t>()[5], v[5]);
}

TEST(Tensor, Bf16RoundsToNearestEven) {
  Tensor x = Tensor::from_vector(
      std::vector<float>{1.0f + 1.0f / 256, 1.0f + 3.0f / 256, 1.0f + 1.0f / 128 + 1.0f / 1024, 3.0e38f}, {4});
  std::vector<float> got = x.to(DType::bf16).to_vector();
  EXPECT_EQ(got[0], 1.0f);               // tie, down to even
  EXPECT_EQ(got[1], 1.0f + 4.0f / 256);  // tie, up to even
  EXPECT_EQ(got[2], 1.0f + 1.0f / 128);  // below half way
  EXPECT_TRUE(std::isfinite(got[3]));
}

// f16 <-> f32 (engine/half.h): the written-out conversions (those of clang 14 builds) round as
// IEEE says, and match the compiler's own bit for bit where the build has one.
TEST(Half, ConversionsRoundToNearestEvenAndMatchTheCompiler) {
  for (auto convert : {&float_to_half, &soft_float_to_half}) {
    EXPECT_EQ(convert(1.0f), 0x3c00);
    EXPECT_EQ(convert(-2.0f), 0xc000);
    EXPECT_EQ(convert(1.0f / 3), 0x3555);
    EXPECT_EQ(convert(65504.0f), 0x7bff);       // largest half
    EXPECT_EQ(convert(65519.0f), 0x7bff);       // below half way to 65536
    EXPECT_EQ(convert(65520.0f), 0x7c00);       // half way: to even, which is inf
    EXPECT_EQ(convert(std::ldexp(1.0f, -24)), 0x0001);      // smallest subnormal
    EXPECT_EQ(convert(std::ldexp(1.0f, -25)), 0x0000);      // tie, down to even (zero)
    EXPECT_EQ(convert(std::ldexp(3.0f, -25)), 0x0002);      // tie, up to even
    EXPECT_EQ(convert(std::ldexp(1023.5f, -24)), 0x0400);   // rounds up into the smallest normal
    EXPECT_EQ(convert(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie, down to even
    EXPECT_EQ(convert(-INFINITY), 0xfc00);
    EXPECT_EQ(convert(NAN) & 0x7e00, 0x7e00);  // a quiet NaN
  }
  EXPECT_EQ(soft_half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(soft_half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(soft_half_to_float(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(soft_half_to_float(0x7e01)));
#if MAPET_SOFT_HALF
  GTEST_SKIP() << "this build's conversions are the written-out ones: nothing more to compare";
#else
  auto bits = [](float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; };
  int differ = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float want = half_to_float(static_cast<uint16_t>(h)), got = soft_half_to_float(static_cast<uint16_t>(h));
    const bool same = std::isnan(want) ? std::isnan(got) && std::signbit(got) == std::signbit(want) : bits(got) == bits(want);
    if (!same && differ++ < 5) ADD_FAILURE() << "half " << h << ": " << want << " != " << got;
  }
  std::mt19937 rng(17);
  for (int i = 0; i < 4000000; ++i) {
    uint32_t b = static_cast<uint32_t>(rng());
    if (i % 2) b = (b & 0x80000000u) | (0x33000000u + b % (0x47800000u - 0x33000000u));  // the halves' own range
    float f;
    std::memcpy(&f, &b, 4);
    const uint16_t want = float_to_half(f), got = soft_float_to_half(f);
    const bool same = std::isnan(f) ? (got & 0x7e00) == 0x7e00 && (got & 0x8000) == (want & 0x8000) : got == want;
    if (!same && differ++ < 10) ADD_FAILURE() << "float bits " << b << ": " << want << " != " << got;
  }
  EXPECT_EQ(differ, 0);
#endif
}

TEST(Tensor, ViewAndSliceErrors) {
  Tensor x = iota({3, 4});
  EXPECT_THROW(x.transpose(0, 1).view({12}), Error);
  EXPECT_THROW(x.view({5, -1}), Error);
  EXPECT_THROW(x.view({-1, -1}), Error);
  EXPECT_THROW(x.view({5, 3}), Error);
  EXPECT_THROW(x.slice(1, 2, 5), Error);
  EXPECT_THROW(x.slice(2, 0, 1), Error);
  EXPECT_THROW(x.permute({0, 0}), Error);
  EXPECT_THROW(x.at({3, 0}), Error);
  EXPECT_THROW(x.data<int64_t>(), Error);
  EXPECT_THROW(Tensor::zeros({2, 6}).copy_(x), Error);
  EXPECT_THROW(Tensor::empty({2, -1}), Error);
  EXPECT_THROW(Tensor().raw_data(), Error);
}

}  // namespace
}  // namespace mapet
