// AdamW over all parameter tensors of a model in one launch (twin:
// kernels/cpu/adamw.cpp; per element common::adamw_update, as on the CPU).
//
// The tensors are cut into tiles of kTile elements; the host numbers the
// tiles (tile_begin per tensor) and copies that table to the device; a block
// takes tiles grid-strided and finds a tile's tensor by binary search in the
// table (uniform across the block, cached). A ViT-B step is ~150 tensors:
// one launch instead of 150, and no tensor too small to fill the GPU alone.
// float4 where a tensor's four pointers are 16-byte aligned.
#include "kernels/cuda/dialect.cuh"

#include <vector>

#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kTile = kThreads * 4 * 4;  // four float4 per thread

struct Entry {
  AdamWTensor t;
  int64_t tile_begin;  // this tensor's first tile
  int vec;             // all four pointers 16-byte aligned
};

__global__ void __launch_bounds__(kThreads)
    adamw_kernel(const Entry* __restrict__ table, int count, int64_t tiles) {
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    int lo = 0, hi = count;  // the last entry with tile_begin <= tile
    while (hi - lo > 1) {
      const int mid = (lo + hi) / 2;
      if (table[mid].tile_begin <= tile) lo = mid;
      else hi = mid;
    }
    const Entry& e = table[lo];
    const common::AdamWStep s = e.t.step;
    const int64_t begin = (tile - e.tile_begin) * kTile;
    const int64_t end = e.t.n < begin + kTile ? e.t.n : begin + kTile;
    float *p = e.t.param, *m = e.t.m, *v = e.t.v;
    const float* g = e.t.grad;
    int64_t i = begin + 4 * threadIdx.x;
    if (e.vec) {
      for (; i + 4 <= end; i += 4 * kThreads) {
        float4 pv = *reinterpret_cast<float4*>(p + i), mv = *reinterpret_cast<float4*>(m + i);
        float4 vv = *reinterpret_cast<float4*>(v + i);
        const float4 gv = *reinterpret_cast<const float4*>(g + i);
        common::adamw_update(s, pv.x, gv.x, mv.x, vv.x);
        common::adamw_update(s, pv.y, gv.y, mv.y, vv.y);
        common::adamw_update(s, pv.z, gv.z, mv.z, vv.z);
        common::adamw_update(s, pv.w, gv.w, mv.w, vv.w);
        *reinterpret_cast<float4*>(p + i) = pv;
        *reinterpret_cast<float4*>(m + i) = mv;
        *reinterpret_cast<float4*>(v + i) = vv;
      }
    }
    // The rest element by element: an unaligned tensor, or the last n % 4 of an aligned one.
    for (; i < end; i += 4 * kThreads)
      for (int64_t k = i; k < i + 4 && k < end; ++k) common::adamw_update(s, p[k], g[k], m[k], v[k]);
  }
}

}  // namespace

void adamw_step_many(const AdamWTensor* tensors, size_t count, void* stream) {
  std::vector<Entry> table;
  table.reserve(count + 1);
  int64_t tiles = 0;
  for (size_t k = 0; k < count; ++k) {
    const AdamWTensor& t = tensors[k];
    if (t.n == 0) continue;
    const bool vec = detail::aligned16(t.param) && detail::aligned16(t.grad) && detail::aligned16(t.m) &&
                     detail::aligned16(t.v);
    table.push_back(Entry{t, tiles, vec ? 1 : 0});
    tiles += (t.n + kTile - 1) / kTile;
  }
  if (tiles == 0) return;
  detail::Scratch<Entry> device_table(table.size(), stream);
  detail::copy_to_device(device_table.get(), table.data(), table.size(), stream);
  MAPET_LAUNCH(adamw_kernel, detail::grid_for(tiles, 1), kThreads, 0, static_cast<cudaStream_t>(stream),
               device_table.get(), static_cast<int>(table.size()), tiles);
}

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                void* stream) {
  const AdamWTensor t{s, param, grad, m, v, n};
  adamw_step_many(&t, 1, stream);
}

}  // namespace mapet::cuda
