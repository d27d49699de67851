// Per-sample prediction orders for MaPeT / PeT and masks for MIM. Pure
// integers, no tensors of masks: the attention mask follows from the order
// (kernels/common/interval_mask.h). Draws are keyed by (seed, sample id), so a
// sample gets the same order whatever the batch, thread count or resume point.
#pragma once
#include <cstdint>
#include <vector>

namespace mapet::models {

struct PermutationConfig {
  int64_t grid = 14;            // patches per side (P = grid^2)
  int64_t least_number = 50;    // L: context tokens, CLS included
  bool blockwise = false;       // --blockwise_perm: square blocks of patches stay together
  int64_t block_size = 2;       // side of a block, in patches
};

// The P patch indices (0..P-1) in prediction order; CLS (rank 0) is implicit.
std::vector<int32_t> sample_permutation(const PermutationConfig& c, uint64_t seed, uint64_t sample_id);

// rank[t] for the T = P + 1 tokens (t = 0 is CLS with rank 0; patch p is token p + 1).
std::vector<int32_t> ranks_from_permutation(const std::vector<int32_t>& order);

// BEiT-style blockwise masking: rectangles of at least min_patches patches with
// aspect ratio in [min_aspect, 1/min_aspect], placed at random until `count`
// patches (of grid x grid) are masked. Returns P bytes, 1 = masked; exactly `count` ones.
std::vector<uint8_t> sample_block_mask(int64_t grid, int64_t count, uint64_t seed, uint64_t sample_id,
                                       int64_t min_patches = 16, double min_aspect = 0.3);

}  // namespace mapet::models
