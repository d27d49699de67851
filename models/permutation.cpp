#include "models/permutation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace mapet::models {

namespace {

// A private stream per (seed, sample): the sample id selects the upper half of the key.
struct SampleStream {
  uint64_t key, at = 0;
  SampleStream(uint64_t seed, uint64_t sample) : key(seed ^ (sample * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull)) {}
  uint32_t next() { return philox_u32(key, at++); }
  double uniform() { return (next() >> 8) * (1.0 / 16777216.0); }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<uint64_t>(next()) * n) >> 32); }
};

template <class T>
void shuffle(std::vector<T>& v, SampleStream& s) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[s.below(static_cast<uint32_t>(i))]);
}

}  // namespace

std::vector<int32_t> sample_permutation(const PermutationConfig& c, uint64_t seed, uint64_t sample_id) {
  const int64_t P = c.grid * c.grid;
  if (c.least_number < 1 || c.least_number > P + 1)
    throw Error("least_number " + std::to_string(c.least_number) + " must be in [1, " + std::to_string(P + 1) + "]");
  SampleStream s(seed, sample_id);
  if (!c.blockwise) {
    std::vector<int32_t> order(static_cast<size_t>(P));
    std::iota(order.begin(), order.end(), 0);
    shuffle(order, s);
    return order;
  }
  // Blocks in random order, each block's patches together in raster order.
  const int64_t b = std::max<int64_t>(1, c.block_size), nb = (c.grid + b - 1) / b;
  std::vector<int32_t> blocks(static_cast<size_t>(nb * nb));
  std::iota(blocks.begin(), blocks.end(), 0);
  shuffle(blocks, s);
  std::vector<int32_t> order;
  order.reserve(static_cast<size_t>(P));
  for (int32_t blk : blocks) {
    int64_t by = blk / nb * b, bx = blk % nb * b;
    for (int64_t y = by; y < std::min(by + b, c.grid); ++y)
      for (int64_t x = bx; x < std::min(bx + b, c.grid); ++x) order.push_back(static_cast<int32_t>(y * c.grid + x));
  }
  return order;
}

std::vector<int32_t> ranks_from_permutation(const std::vector<int32_t>& order) {
  std::vector<int32_t> rank(order.size() + 1, -1);
  rank[0] = 0;
  for (size_t r = 0; r < order.size(); ++r) {
    int32_t p = order[r];
    if (p < 0 || static_cast<size_t>(p) >= order.size() || rank[p + 1] != -1)
      throw Error("permutation: entry " + std::to_string(r) + " (" + std::to_string(p) +
                  ") is out of range or repeated; expected each patch index 0.." + std::to_string(order.size() - 1) +
                  " once");
    rank[p + 1] = static_cast<int32_t>(r + 1);
  }
  return rank;
}

std::vector<uint8_t> sample_block_mask(int64_t grid, int64_t count, uint64_t seed, uint64_t sample_id,
                                       int64_t min_patches, double min_aspect) {
  const int64_t P = grid * grid;
  if (count < 0 || count > P) throw Error("mim: cannot mask " + std::to_string(count) + " of " + std::to_string(P) + " patches");
  SampleStream s(seed, sample_id);
  std::vector<uint8_t> mask(static_cast<size_t>(P), 0);
  int64_t masked = 0;
  const double log_lo = std::log(min_aspect), log_hi = std::log(1.0 / min_aspect);
  // Rectangles as BEiT describes them; each try may add only what is still missing.
  for (int tries = 0; masked < count && tries < 1000; ++tries) {
    int64_t left = count - masked;
    int64_t lo = std::min(min_patches, left);
    double area = lo + s.uniform() * static_cast<double>(left - lo);
    double aspect = std::exp(log_lo + s.uniform() * (log_hi - log_lo));
    int64_t h = static_cast<int64_t>(std::round(std::sqrt(area * aspect)));
    int64_t w = static_cast<int64_t>(std::round(std::sqrt(area / aspect)));
    if (h < 1 || w < 1 || h > grid || w > grid) continue;
    int64_t top = s.below(static_cast<uint32_t>(grid - h + 1)), lft = s.below(static_cast<uint32_t>(grid - w + 1));
    int64_t fresh = 0;
    for (int64_t y = top; y < top + h; ++y)
      for (int64_t x = lft; x < lft + w; ++x) fresh += !mask[y * grid + x];
    if (fresh == 0 || fresh > left) continue;
    for (int64_t y = top; y < top + h; ++y)
      for (int64_t x = lft; x < lft + w; ++x) mask[y * grid + x] = 1;
    masked += fresh;
  }
  // Top up with random single patches so every sample masks exactly `count`.
  if (masked < count) {
    std::vector<int32_t> free_idx;
    for (int64_t i = 0; i < P; ++i)
      if (!mask[i]) free_idx.push_back(static_cast<int32_t>(i));
    shuffle(free_idx, s);
    for (int64_t i = 0; masked < count; ++i, ++masked) mask[free_idx[i]] = 1;
  }
  return mask;
}

}  // namespace mapet::models
