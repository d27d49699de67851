// Which samples one rank reads in one epoch, in which order.
//
// shuffle: a permutation of 0..n-1 drawn from (seed, epoch) alone (Fisher-Yates
// on counter-based draws), the same on every rank; otherwise 0..n-1.
// Ranks take every world-th entry starting at `rank`, so shards are disjoint.
// even_shards (training): the list is first cut to a multiple of world, so
// every rank gets the same number of samples (and steps) — the cut tail differs
// each epoch when shuffling. Otherwise (evaluation) every sample is in exactly
// one shard, and shard sizes differ by at most one.
#pragma once
#include <cstdint>
#include <vector>

namespace mapet::data {

struct SamplerOptions {
  bool shuffle = true;
  uint64_t seed = 0;
  int rank = 0, world = 1;
  bool even_shards = true;
};

std::vector<int64_t> epoch_order(int64_t n, int64_t epoch, const SamplerOptions& opt);

}  // namespace mapet::data
