// The parameter tensors of the MaPeT ViT at a bench shape (names as in timm /
// DESIGN.md), for the kernels that take all of them at once: AdamW and the
// gradient norm. ViT-S/16 with its decoder: about 25 M values in 160 tensors.
#pragma once
#include <vector>

#include "bench/cuda/bench.h"

namespace mapet::cuda_bench {

inline std::vector<int64_t> vit_parameter_sizes(const Shape& s) {
  const int64_t D = s.D, H = s.hidden;
  std::vector<int64_t> sizes = {D * 3 * s.patch * s.patch, D, D, s.T * D, D};  // patch_embed.proj, cls, pos, mask
  for (int64_t i = 0; i < s.depth; ++i) {
    const int64_t block[] = {D,     D,     D * D, D, 2 * D * D, 2 * D, D * D, D, D,  // norm1, q, kv, proj, ls1
                             D,     D,     H * D, H, D * H,     D,     D};           // norm2, fc1, fc2, ls2
    sizes.insert(sizes.end(), std::begin(block), std::end(block));
  }
  sizes.insert(sizes.end(), {D, D, s.classes * D, s.classes});  // norm, decoder
  return sizes;
}

}  // namespace mapet::cuda_bench
