// cuda::embedding_forward against ops::index_select(table, 0, index): bit for bit.
#include "kernels/cuda/embedding.cuh"

#include <cmath>
#include <cstring>

#include "engine/ops/shape.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

// dim 7 (scalar), 36 (float4), 300 (wider than a warp's float4s); repeated indices.
TEST(EmbeddingTwin, LookupMatchesIndexSelect) {
  for (auto [rows, dim, n] : {std::tuple<int64_t, int64_t, int64_t>{5, 7, 9}, {100, 36, 70}, {3, 300, 4}}) {
    Tensor table = test::randn({rows, dim}, test::fresh_seed());
    std::vector<int64_t> idx(n);
    for (int64_t i = 0; i < n; ++i) idx[i] = (i * 37 + 3) % rows;
    const std::vector<float> want =
        ops::index_select(Var(table), 0, Tensor::from_vector(idx, {n})).value().to_vector();
    test::twin::Case c;
    const float* d_table = c.input(table.to_vector());
    const int64_t* d_idx = c.input(idx);
    float* d_out = c.output<float>(n * dim);
    c.run([&] { cuda::embedding_forward(d_table, d_idx, d_out, n, rows, dim); });
    EXPECT_TRUE(test::twin::close(c.read(d_out), want, {}, "embedding dim " + std::to_string(dim)));
  }
}

TEST(EmbeddingTwin, IndexOutsideTheTableGivesNaNs) {
  const std::vector<float> table = {1, 2, 3, 4, 5, 6};  // [3][2]
  const std::vector<int64_t> idx = {2, 3, -1, 0};
  test::twin::Case c;
  const float* d_table = c.input(table);
  const int64_t* d_idx = c.input(idx);
  float* d_out = c.output<float>(8);
  c.run([&] { cuda::embedding_forward(d_table, d_idx, d_out, 4, 3, 2); });
  const std::vector<float> got = c.read(d_out);
  EXPECT_EQ(got[0], 5.0f);
  EXPECT_EQ(got[1], 6.0f);
  for (int k = 2; k < 6; ++k) {  // a NaN the kernel wrote, not the harness's 0xffffffff poison
    uint32_t bits;
    std::memcpy(&bits, &got[k], 4);
    EXPECT_TRUE(std::isnan(got[k]) && bits != 0xffffffffu) << k;
  }
  EXPECT_EQ(got[6], 1.0f);
  EXPECT_EQ(got[7], 2.0f);
}

}  // namespace
}  // namespace mapet
