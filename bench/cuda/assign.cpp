// cuda::assign (kernels/cuda/assign.cu) against cpu::assign: the tokenizer's nearest-centroid
// lookup of every patch of the batch (B*P rows of CLIP features) in the k-means codebook. Ids
// must be identical (both re-rank near-ties in float64), distances equal to f32 rounding.
// FLOPs: 2 n K d, the distance tiles (the float64 re-rank of a few candidates not counted).
#include "kernels/cuda/assign.cuh"

#include "bench/cuda/bench.h"
#include "kernels/cpu/assign.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(assign) {
  const int64_t n = b.shape().B * b.shape().P(), k = b.shape().centroids, d = b.shape().feature_dim;
  // Rows near the centroids, as features near their codebook: each row a centroid plus noise.
  const std::vector<float> c = b.randn(k * d);
  std::vector<float> x = b.randn(n * d, 0.5f);
  std::mt19937_64 g(b.seed());
  for (int64_t r = 0; r < n; ++r) {
    const int64_t near = static_cast<int64_t>(g() % k);
    for (int64_t i = 0; i < d; ++i) x[r * d + i] += c[near * d + i];
  }
  std::vector<int64_t> ids(n);
  std::vector<float> dist(n);
  const cpu::AssignCentroids cc(c.data(), k, d);
  cpu::assign(cc, x.data(), n, ids.data(), dist.data());

  twin::Case tc;
  const float *d_x = tc.input(x), *d_c = tc.input(c);
  void* tables = tc.output<unsigned char>(cuda::assign_centroids_bytes(k, d));
  int64_t* d_ids = tc.output<int64_t>(n);
  float* d_dist = tc.output<float>(n);
  cuda::AssignCentroids dc;
  b.validate(tc, [&] {
    dc = cuda::assign_centroids(d_c, k, d, tables);
    cuda::assign(dc, d_x, n, d_ids, d_dist);
  });
  b.expect_close(tc.read(d_ids), ids, {}, "ids (identical)");
  b.expect_close(tc.read(d_dist), dist, {1e-6, 0}, "squared distances");
  b.time("assign (tables built once)", [&] { cuda::assign(dc, d_x, n, d_ids, d_dist); },
         {.flops = 2.0 * n * k * d, .bytes = 4.0 * n * d + 2.0 * k * d + 12.0 * n, .tensor_cores = true});
}
