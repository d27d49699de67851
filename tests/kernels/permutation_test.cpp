// The MaPeT sequence gather/scatter: the CPU twin against what models/mapet.cpp
// computes with ops, and cuda:: against the CPU twin (bit for bit: copies and one add).
#include "kernels/cuda/permutation.cuh"

#include <algorithm>
#include <numeric>
#include <random>

#include "engine/ops/ops.h"
#include "kernels/cpu/permutation.h"
#include "kernels/cpu/reduce.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<float> randn(int64_t n) { return test::randn({n}, test::fresh_seed()).to_vector(); }

std::vector<int64_t> random_perms(int64_t B, int64_t P) {
  std::mt19937_64 rng(test::fresh_seed());
  std::vector<int64_t> perm(B * P);
  for (int64_t b = 0; b < B; ++b) {
    std::iota(perm.begin() + b * P, perm.begin() + (b + 1) * P, 0);
    std::shuffle(perm.begin() + b * P, perm.begin() + (b + 1) * P, rng);
  }
  return perm;
}

struct SeqCase {
  int64_t B, T, L, D;
  int streams;  // 2: mapet, 1: pet
};

std::string name_of(const SeqCase& c) {
  return std::to_string(c.B) + "x" + std::to_string(c.T) + "_L" + std::to_string(c.L) + "_D" + std::to_string(c.D) +
         (c.streams == 2 ? "_mapet" : "_pet");
}

// The twin is what MapetModel::forward_permuted builds from ops (index tensors
// from perm, gather_tokens, mask tokens added, concat), forward and backward.
TEST(MapetSequence, CpuTwinIsWhatTheModelComputes) {
  for (const SeqCase c : {SeqCase{3, 10, 4, 6, 2}, SeqCase{2, 17, 5, 8, 1}}) {
    SCOPED_TRACE(name_of(c));
    const int64_t B = c.B, T = c.T, L = c.L, D = c.D, P = T - 1, M = T - L, rows = T + c.streams * M;
    const std::vector<int64_t> perm = random_perms(B, P);
    Var x(test::randn({B, T, D}, test::fresh_seed()), true), pos(test::randn({1, T, D}, test::fresh_seed()), true);
    Var mask(test::randn({1, 1, D}, test::fresh_seed()), true);
    std::vector<int64_t> real_idx(B * T), pred_idx(B * M);  // as models/mapet.cpp fills them
    for (int64_t b = 0; b < B; ++b) {
      real_idx[b * T] = 0;
      for (int64_t r = 0; r < P; ++r) real_idx[b * T + r + 1] = perm[b * P + r] + 1;
      for (int64_t q = 0; q < M; ++q) pred_idx[b * M + q] = perm[b * P + L - 1 + q] + 1;
    }
    Var real = ops::gather_tokens(x, Tensor::from_vector(real_idx, {B, T}));
    Var masks = ops::add(ops::gather_tokens(ops::expand_batch(pos, B), Tensor::from_vector(pred_idx, {B, M})), mask);
    Var seq = c.streams == 2 ? ops::concat({real, masks, masks}, 1) : ops::concat({real, masks}, 1);
    const std::vector<float> dseq = randn(B * rows * D);
    autograd::backward(ops::sum(ops::mul(seq, Var(Tensor::from_vector(dseq, {B, rows, D})))));

    std::vector<float> want_seq(B * rows * D), dx(B * T * D), dmask_pos(B * T * D), dpos(T * D), dmask(D);
    cpu::mapet_sequence_gather(x.value().to_vector().data(), pos.value().to_vector().data(),
                               mask.value().to_vector().data(), perm.data(), want_seq.data(), B, T, L, D, c.streams);
    cpu::mapet_sequence_scatter(dseq.data(), perm.data(), dx.data(), dmask_pos.data(), B, T, L, D, c.streams);
    cpu::sum_rows(dmask_pos.data(), dpos.data(), B, T * D);   // as expand_batch's backward sums
    cpu::sum_rows(dmask_pos.data(), dmask.data(), B * T, D);  // zero rows add nothing
    EXPECT_TRUE(test::twin::close(want_seq, seq.value().to_vector(), {}, "seq"));
    EXPECT_TRUE(test::twin::close(dx, x.grad().to_vector(), {}, "dx"));
    EXPECT_TRUE(test::twin::close(dpos, pos.grad().to_vector(), {}, "dpos_embed"));
    EXPECT_TRUE(test::twin::close(dmask, mask.grad().to_vector(), {1e-6, 1e-6}, "dmask_token"));  // summed in another order
  }
}

// Scalar channels (D 7), float4 channels, PeT's single mask stream, and one
// predicted token (L = T - 1).
class MapetSequenceTwin : public ::testing::TestWithParam<SeqCase> {};

TEST_P(MapetSequenceTwin, GatherAndScatterMatchCpu) {
  const SeqCase p = GetParam();
  const int64_t rows = p.T + p.streams * (p.T - p.L);
  const std::vector<int64_t> perm = random_perms(p.B, p.T - 1);
  std::vector<float> x = randn(p.B * p.T * p.D), pos = randn(p.T * p.D), mask = randn(p.D);
  std::vector<float> dseq = randn(p.B * rows * p.D);
  std::vector<float> seq(p.B * rows * p.D), dx(p.B * p.T * p.D), dmask_pos(p.B * p.T * p.D);
  cpu::mapet_sequence_gather(x.data(), pos.data(), mask.data(), perm.data(), seq.data(), p.B, p.T, p.L, p.D,
                             p.streams);
  cpu::mapet_sequence_scatter(dseq.data(), perm.data(), dx.data(), dmask_pos.data(), p.B, p.T, p.L, p.D, p.streams);

  test::twin::Case c;
  const float *d_x = c.input(x), *d_pos = c.input(pos), *d_mask = c.input(mask), *d_dseq = c.input(dseq);
  const int64_t* d_perm = c.input(perm);
  float *d_seq = c.output<float>(seq.size()), *d_dx = c.output<float>(dx.size());
  float* d_dmask_pos = c.output<float>(dmask_pos.size());
  c.run([&] {
    cuda::mapet_sequence_gather(d_x, d_pos, d_mask, d_perm, d_seq, p.B, p.T, p.L, p.D, p.streams);
    cuda::mapet_sequence_scatter(d_dseq, d_perm, d_dx, d_dmask_pos, p.B, p.T, p.L, p.D, p.streams);
  });
  EXPECT_TRUE(test::twin::close(c.read(d_seq), seq, {}, "seq"));
  EXPECT_TRUE(test::twin::close(c.read(d_dx), dx, {}, "dx"));
  EXPECT_TRUE(test::twin::close(c.read(d_dmask_pos), dmask_pos, {}, "dmask_pos"));
}

INSTANTIATE_TEST_SUITE_P(Shapes, MapetSequenceTwin,
                         ::testing::Values(SeqCase{2, 10, 4, 7, 2}, SeqCase{3, 17, 5, 36, 2},
                                           SeqCase{2, 10, 3, 12, 1}, SeqCase{1, 5, 4, 260, 2}),
                         [](const auto& info) { return name_of(info.param); });

}  // namespace
}  // namespace mapet
