// cuda::copy_strided against cpu::copy_strided: bit for bit, for transposes,
// slices and permutes of odd shapes, every element size.
#include "kernels/cuda/copy.cuh"

#include <numeric>

#include "kernels/cpu/copy.h"
#include "tests/kernels/twin.h"

namespace mapet {
namespace {

template <class T>
void check(const std::vector<int64_t>& shape, const std::vector<int64_t>& src_strides, size_t src_elems) {
  std::vector<T> src(src_elems);
  for (size_t i = 0; i < src_elems; ++i) src[i] = static_cast<T>(i * 2654435761u + 7);
  const int nd = static_cast<int>(shape.size());
  std::vector<int64_t> dst_strides(nd);
  int64_t n = 1;
  for (int i = nd; i-- > 0;) dst_strides[i] = n, n *= shape[i];
  std::vector<T> want(n);
  cpu::copy_strided(want.data(), dst_strides.data(), src.data(), src_strides.data(), shape.data(), nd, sizeof(T));
  test::twin::Case c;
  const T* d_src = c.input(src);
  T* d_dst = c.output<T>(n);
  c.run([&] { cuda::copy_strided(d_dst, dst_strides.data(), d_src, src_strides.data(), shape.data(), nd, sizeof(T)); });
  EXPECT_TRUE(test::twin::close(c.read(d_dst), want, {}, "copy_strided " + std::to_string(sizeof(T)) + " bytes"));
}

TEST(CopyTwin, TransposesSlicesPermutes) {
  check<float>({7, 5}, {1, 7}, 35);                       // a transpose
  check<uint16_t>({3, 4, 9}, {72, 18, 2}, 216);           // every other element of the last dim
  check<uint8_t>({2, 3, 5, 4}, {60, 4, 12, 1}, 120);      // a permute (0, 2, 1, 3)
  check<int64_t>({600}, {3}, 1800);                       // long enough for several blocks
  check<float>({1, 2, 1, 3, 1, 2, 2, 3}, {72, 36, 36, 12, 12, 6, 3, 1}, 72);  // 8 dimensions
}

TEST(CopyTwin, RefusesWhatItCannotDo) {
  int64_t s[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  float x = 0, y = 0;
  EXPECT_THROW(cuda::copy_strided(&y, s, &x, s, s, 9, 4), std::invalid_argument);
  EXPECT_THROW(cuda::copy_strided(&y, s, &x, s, s, 1, 3), std::invalid_argument);
}

}  // namespace
}  // namespace mapet
