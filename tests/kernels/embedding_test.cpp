// cuda::embedding_{forward,backward} against cpu::embedding_{forward,backward},
// themselves checked against ops::index_select and ops::gather_tokens (their
// values and gradients): bit for bit.
#include "kernels/cuda/embedding.cuh"

#include <cmath>
#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "kernels/cpu/embedding.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

// One table (ops::index_select) and one per sample (ops::gather_tokens);
// dim 7 (scalar), 36 (float4), 300 (wider than a warp's float4s); repeated indices.
TEST(EmbeddingTwin, LookupMatchesCpuAndTheOps) {
  for (auto [batches, rows, dim, n] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 5, 7, 9}, {1, 100, 36, 70},
                                       {1, 3, 300, 4}, {3, 11, 36, 14}, {2, 6, 7, 5}}) {
    Tensor table = test::randn(batches == 1 ? Shape{rows, dim} : Shape{batches, rows, dim}, test::fresh_seed());
    std::vector<int64_t> idx(batches * n);
    for (int64_t i = 0; i < batches * n; ++i) idx[i] = (i * 37 + 3) % rows;
    const Tensor index = Tensor::from_vector(idx, batches == 1 ? Shape{n} : Shape{batches, n});
    const std::vector<float> from_ops = (batches == 1 ? ops::index_select(Var(table), 0, index)
                                                      : ops::gather_tokens(Var(table), index))
                                            .value()
                                            .to_vector();
    std::vector<float> want(batches * n * dim);
    cpu::embedding_forward(table.data<float>(), idx.data(), want.data(), batches, n, rows, dim);
    EXPECT_EQ(want, from_ops) << "cpu::embedding_forward is not the ops' lookup";
    test::twin::Case c;
    const float* d_table = c.input(table.to_vector());
    const int64_t* d_idx = c.input(idx);
    float* d_out = c.output<float>(batches * n * dim);
    c.run([&] { cuda::embedding_forward(d_table, d_idx, d_out, batches, n, rows, dim); });
    EXPECT_TRUE(test::twin::close(c.read(d_out), want, {},
                                  "embedding " + std::to_string(batches) + " tables, dim " + std::to_string(dim)));
  }
}

TEST(EmbeddingTwin, IndexOutsideTheTableGivesNaNs) {
  const std::vector<float> table = {1, 2, 3, 4, 5, 6};  // [3][2]
  const std::vector<int64_t> idx = {2, 3, -1, 0};
  test::twin::Case c;
  const float* d_table = c.input(table);
  const int64_t* d_idx = c.input(idx);
  float* d_out = c.output<float>(8);
  c.run([&] { cuda::embedding_forward(d_table, d_idx, d_out, 1, 4, 3, 2); });
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

// The scatter-add of gradients: one table (an embedding) and one table per
// sample (ops::gather_tokens's backward); repeated indices, an index outside
// the table (skipped); dim 7 (scalar), 36 (float4), 300 (more than a block of columns).
TEST(EmbeddingTwin, BackwardMatchesCpuAndTheOpsGradients) {
  for (auto [batches, rows, dim, n] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 5, 7, 9}, {3, 11, 36, 14},
                                       {2, 4, 300, 6}}) {
    std::vector<int64_t> idx(batches * n);
    for (int64_t i = 0; i < batches * n; ++i) idx[i] = (i * 37 + 3) % rows;
    const std::vector<float> dout = test::randn({batches * n * dim}, test::fresh_seed()).to_vector();
    const std::vector<float> table0 = test::randn({batches * rows * dim}, test::fresh_seed()).to_vector();

    // The CPU twin from zeros is the ops' gradient (sum(y * dout) has gradient dout).
    std::vector<float> from_zero(batches * rows * dim, 0.0f);
    cpu::embedding_backward(dout.data(), idx.data(), from_zero.data(), batches, n, rows, dim);
    Var x(Tensor::zeros(batches == 1 ? Shape{rows, dim} : Shape{batches, rows, dim}), true);
    const Tensor index = Tensor::from_vector(idx, batches == 1 ? Shape{n} : Shape{batches, n});
    const Var y = batches == 1 ? ops::index_select(x, 0, index) : ops::gather_tokens(x, index);
    autograd::backward(ops::sum(ops::mul(y, Var(Tensor::from_vector(dout, y.shape())))));
    EXPECT_EQ(x.grad().to_vector(), from_zero) << "cpu::embedding_backward is not the ops' gradient";

    std::vector<int64_t> bad = idx;
    bad[0] = rows;  // outside the table: skipped by both
    std::vector<float> want = table0;  // accumulating into values already there
    cpu::embedding_backward(dout.data(), bad.data(), want.data(), batches, n, rows, dim);
    test::twin::Case c;
    const float* d_dout = c.input(dout);
    const int64_t* d_idx = c.input(bad);
    float* d_table = c.inout(table0);
    c.run([&] { cuda::embedding_backward(d_dout, d_idx, d_table, batches, n, rows, dim); });
    EXPECT_TRUE(test::twin::close(c.read(d_table), want, {}, "embedding_backward dim " + std::to_string(dim)));
  }
}

}  // namespace
}  // namespace mapet
