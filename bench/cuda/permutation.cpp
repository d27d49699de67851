// cuda::mapet_sequence_{gather,scatter} (kernels/cuda/permutation.cu) against cpu::: the MaPeT
// sequence in permutation order (real tokens by rank, mask tokens twice), and back.
#include "kernels/cuda/permutation.cuh"

#include <algorithm>
#include <numeric>

#include "bench/cuda/bench.h"
#include "kernels/cpu/permutation.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(permutation) {
  const int64_t B = b.shape().B, T = b.shape().T, L = b.shape().L, D = b.shape().D, P = T - 1;
  const int64_t S = b.shape().S();
  const int streams = 2;
  std::vector<int64_t> perm(B * P);
  std::mt19937_64 g(b.seed());
  for (int64_t i = 0; i < B; ++i) {
    std::iota(perm.begin() + i * P, perm.begin() + (i + 1) * P, 0);
    std::shuffle(perm.begin() + i * P, perm.begin() + (i + 1) * P, g);
  }
  const std::vector<float> x = b.randn(B * T * D), pos = b.randn(T * D), mask = b.randn(D), dseq = b.randn(B * S * D);
  std::vector<float> seq(B * S * D), dx(B * T * D), dmask_pos(B * T * D);
  cpu::mapet_sequence_gather(x.data(), pos.data(), mask.data(), perm.data(), seq.data(), B, T, L, D, streams);
  cpu::mapet_sequence_scatter(dseq.data(), perm.data(), dx.data(), dmask_pos.data(), B, T, L, D, streams);

  twin::Case c;
  const float *d_x = c.input(x), *d_pos = c.input(pos), *d_mask = c.input(mask), *d_dseq = c.input(dseq);
  const int64_t* d_perm = c.input(perm);
  float *d_seq = c.output<float>(seq.size()), *d_dx = c.output<float>(dx.size());
  float* d_dmp = c.output<float>(dmask_pos.size());
  auto gather = [&] { cuda::mapet_sequence_gather(d_x, d_pos, d_mask, d_perm, d_seq, B, T, L, D, streams); };
  auto scatter = [&] { cuda::mapet_sequence_scatter(d_dseq, d_perm, d_dx, d_dmp, B, T, L, D, streams); };
  b.validate(c, [&] { gather(); scatter(); });
  b.expect_close(c.read(d_seq), seq, {}, "gather: sequence (bit for bit)");
  b.expect_close(c.read(d_dx), dx, {}, "scatter: dx (bit for bit)");
  b.expect_close(c.read(d_dmp), dmask_pos, {1e-6, 1e-6}, "scatter: dmask_pos (two streams summed)");
  // Bytes: gather reads x (B T D) and, per mask row, pos_embed (B M D; the mask token is one row)
  // and writes S rows per sample; scatter reads the S rows and writes dx and dmask_pos (2 B T D).
  const int64_t M = b.shape().M();
  b.time("mapet_sequence_gather", gather, {.bytes = 4.0 * D * (B * T + B * M + B * S)});
  b.time("mapet_sequence_scatter", scatter, {.bytes = 4.0 * D * (B * S + 2 * B * T)});
}
