// The MaPeT step's workload for bench/mapet_step (CPU) and bench/cuda/train_step
// (GPU): a random batch, and the useful matmul FLOPs (the numerator of their MFU).
#pragma once
#include <algorithm>
#include <vector>

#include "engine/ops/interval_attention.h"
#include "engine/rng.h"
#include "models/mapet.h"
#include "models/permutation.h"

namespace mapet::bench {

// Matmul FLOPs of one forward for one image (2 per multiply-add), counting only
// the attention scores and values a row may see (the useful work):
//   patch embed 2 P (C p^2) D; per block: q and proj 2 R D^2 each, kv 2 K (2 D^2),
//   MLP 2 R (8 D^2), attention 4 D * (visible keys summed over rows); decoder 2 M D V
// with R query rows, K key rows and M predicted tokens. The last block of mapet
// and pet computes only its M query-stream rows (R = M there, K unchanged).
// A step counts 3x.
inline double mapet_forward_flops(const models::MapetConfig& c) {
  const models::VitConfig& v = c.vit;
  const int64_t P = v.num_patches(), T = P + 1;
  ops::IntervalMask m = ops::mapet_interval_mask(c.objective, T, c.least_number);
  const int64_t L = c.least_number;
  const bool mim = c.objective == common::Objective::mim;
  const double K = common::mapet_key_rows(c.objective, static_cast<int>(T), static_cast<int>(L));
  const double M = mim ? c.mim_mask_count : static_cast<double>(T - L);
  const double mask_keys = K - static_cast<double>(T), D = v.embed_dim;
  // One block whose queries are the mask rows [first, end).
  auto block = [&](size_t first) {
    double visible = 0;
    for (size_t i = first; i < m.real_end.size(); ++i)
      visible += m.real_end[i] + std::max(0.0, mask_keys - m.mask_start[i]);
    const double R = static_cast<double>(m.real_end.size() - first);
    return 2 * R * D * D * 2 + 2 * K * 2 * D * D + 2 * R * v.mlp_ratio * 2 * D * D + 4 * D * visible;
  };
  const size_t last_first = mim ? 0 : m.real_end.size() - static_cast<size_t>(M);
  const double blocks = v.depth > 0 ? (v.depth - 1) * block(0) + block(last_first) : 0.0;
  return 2.0 * P * v.in_chans * v.patch_size * v.patch_size * D + blocks + 2 * M * D * c.vocab_size;
}

// B random normalised images, random visual tokens, and each sample's
// permutation and block mask drawn as pretrain draws them (seed 3, sample i).
inline models::MapetBatch random_mapet_batch(const models::MapetConfig& cfg, int64_t B) {
  models::MapetBatch b;
  const int64_t P = cfg.vit.num_patches();
  Generator g(1);
  b.images = Tensor::empty({B, 3, cfg.vit.img_size, cfg.vit.img_size});
  g.normal_(b.images);
  b.tokens = Tensor::empty({B, P}, DType::i64);
  b.perm = Tensor::empty({B, P}, DType::i64);
  b.mask = Tensor::empty({B, P}, DType::u8);
  models::PermutationConfig pc;
  pc.grid = cfg.vit.grid(), pc.least_number = cfg.least_number;
  for (int64_t i = 0; i < B; ++i) {
    const std::vector<int32_t> order = models::sample_permutation(pc, 3, i);
    const std::vector<uint8_t> mask = models::sample_block_mask(cfg.vit.grid(), cfg.mim_mask_count, 3, i);
    for (int64_t p = 0; p < P; ++p) {
      b.perm.data<int64_t>()[i * P + p] = order[p];
      b.mask.data<uint8_t>()[i * P + p] = mask[p];
      b.tokens.data<int64_t>()[i * P + p] = static_cast<int64_t>(g.randint(cfg.vocab_size));
    }
  }
  return b;
}

}  // namespace mapet::bench
