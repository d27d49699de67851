#include "data/sampler.h"

#include <numeric>
#include <string>
#include <utility>

#include "data/sample_rng.h"
#include "engine/tensor.h"

namespace mapet::data {

std::vector<int64_t> epoch_order(int64_t n, int64_t epoch, const SamplerOptions& opt) {
  if (opt.world < 1 || opt.rank < 0 || opt.rank >= opt.world)
    throw Error("sampler: rank " + std::to_string(opt.rank) + " of " + std::to_string(opt.world) + " is not valid");
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  if (opt.shuffle) {
    // Index ~0 keeps these draws apart from every sample's own (which use index < n).
    SampleRng rng(opt.seed, static_cast<uint64_t>(epoch), ~uint64_t(0));
    for (int64_t i = n - 1; i > 0; --i) std::swap(all[i], all[rng.randint(static_cast<uint64_t>(i), i + 1)]);
  }
  int64_t used = opt.even_shards ? n - n % opt.world : n;
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(used / opt.world + 1));
  for (int64_t i = opt.rank; i < used; i += opt.world) mine.push_back(all[i]);
  return mine;
}

}  // namespace mapet::data
