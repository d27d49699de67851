// cuda::copy_strided against cpu::copy_strided: bytes moved, so bit for bit.
// Layouts the engine makes: a transpose, a permute of 3 dims, a broadcast
// (source stride 0, expand_batch), a slice written into a wider destination
// (concat), size-1 dims, a scalar; element sizes 1, 2, 4, 8 and 3.
#include "kernels/cuda/copy.cuh"

#include <numeric>
#include <stdexcept>
#include <string>

#include "kernels/cpu/copy.h"
#include "tests/kernels/twin.h"

namespace mapet {
namespace {

struct CopyCase {
  std::string what;
  std::vector<int64_t> shape, dst_strides, src_strides;
  int64_t dst_size, src_size;  // elements
  int64_t dst_offset = 0;       // where the copy starts in dst (a slice of it)
};

// Contiguous strides of a shape.
std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::vector<CopyCase> cases() {
  return {
      {"transpose 5x7", {7, 5}, strides_of({7, 5}), {1, 7}, 35, 35},
      {"permute 3x4x5 (0,2,1)", {3, 5, 4}, strides_of({3, 5, 4}), {20, 1, 5}, 60, 60},
      {"broadcast 1x13 to 6x13", {6, 13}, strides_of({6, 13}), {0, 1}, 78, 13},
      {"slice 3x9 into 3x(4+9+2) at 4", {3, 9}, {15, 1}, strides_of({3, 9}), 45, 27, 4},
      {"size-1 dims 1x37x1x3", {1, 37, 1, 3}, {111, 1, 3, 37}, {111, 3, 3, 1}, 111, 111},
      {"scalar", {}, {}, {}, 1, 1},
      {"contiguous 1031", {1031}, {1}, {1}, 1031, 1031},
  };
}

TEST(CopyTwin, EveryLayoutMatchesCpu) {
  for (const CopyCase& p : cases()) {
    for (size_t es : {1, 2, 3, 4, 8}) {
      std::vector<unsigned char> src(p.src_size * es), dst0(p.dst_size * es);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 131 + 7);
      // dst0: what must survive outside the copied elements.
      for (size_t i = 0; i < dst0.size(); ++i) dst0[i] = static_cast<unsigned char>(i * 17 + 3);
      std::vector<unsigned char> want = dst0;
      const int nd = static_cast<int>(p.shape.size());
      cpu::copy_strided(want.data() + p.dst_offset * es, p.dst_strides.data(), src.data(), p.src_strides.data(),
                        p.shape.data(), nd, es);
      test::twin::Case c;
      const unsigned char* d_src = c.input(src);
      unsigned char* d_dst = c.inout(dst0);
      c.run([&] {
        cuda::copy_strided(d_dst + p.dst_offset * es, p.dst_strides.data(), d_src, p.src_strides.data(),
                           p.shape.data(), nd, es);
      });
      EXPECT_TRUE(test::twin::close(c.read(d_dst), want, {}, p.what + ", " + std::to_string(es) + "-byte elements"));
    }
  }
}

TEST(CopyTwin, EmptyShapeCopiesNothingAndTooManyDimsThrow) {
  const std::vector<float> src = {1, 2, 3};
  const std::vector<float> dst0 = {7, 8, 9};
  test::twin::Case c;
  const float* d_src = c.input(src);
  float* d_dst = c.inout(dst0);
  const std::vector<int64_t> shape = {3, 0}, strides = {1, 1};
  c.run([&] { cuda::copy_strided(d_dst, strides.data(), d_src, strides.data(), shape.data(), 2, 4); });
  EXPECT_EQ(c.read(d_dst), dst0);
  // 9 dims of 2 that no merge can join (every dst stride reversed).
  std::vector<int64_t> shape9(9, 2), src9(9), dst9(9);
  for (int i = 0; i < 9; ++i) src9[i] = int64_t{1} << (8 - i), dst9[i] = int64_t{1} << i;
  EXPECT_THROW(cuda::copy_strided(d_dst, dst9.data(), d_src, src9.data(), shape9.data(), 9, 4), std::invalid_argument);
}

}  // namespace
}  // namespace mapet
