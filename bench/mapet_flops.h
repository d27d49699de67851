// The useful matmul FLOPs of a MaPeT forward (bench/mapet_step on the CPU,
// bench/cuda/train_step on a GPU: the numerator of their MFU).
#pragma once
#include <algorithm>

#include "engine/ops/interval_attention.h"
#include "models/mapet.h"

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

}  // namespace mapet::bench
