// LayerNorm forward and backward on the GPU (twins: kernels/cpu/layernorm.cpp).
//
// One warp per row, rows grid-strided. Where a row is float4-aligned and at
// most kMaxVec * 128 wide (ViT dims: 192..1024) each lane keeps its slice of
// the row in registers, so x is read from memory once; other shapes take the
// generic path, which re-reads the row (from L1) for each pass. Statistics as
// on the CPU: mean first, then the centred variance (stable), rstd = 1/sqrt.
//
// Backward: one block per chunk of kChunkRows rows computes dx for those rows
// (a warp per row) and, in the same kernel while the chunk is hot in L2, the
// chunk's dgamma/dbeta partial column sums (a thread per column, rows in
// order); sum_chunks then adds the chunk partials in a fixed order.
#include "kernels/cuda/dialect.cuh"

#include <initializer_list>

#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

using detail::kWarp;
using detail::warp_sum;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarp;
constexpr int kMaxVec = 8;  // float4s per lane held in registers: rows up to 1024 wide

// ---- forward ---------------------------------------------------------------

template <int kVec>  // float4s per lane; the row is dim/4 float4s
__device__ __forceinline__ void forward_row_cached(const float* __restrict__ xr, const float* __restrict__ gamma,
                                                   const float* __restrict__ beta, float* __restrict__ yr, int dim,
                                                   float eps, float& mu_out, float& r_out) {
  const int lane = threadIdx.x % kWarp, nvec = dim / 4;
  float4 v[kVec];
  float s = 0.0f;
MAPET_UNROLL
  for (int k = 0; k < kVec; ++k) {
    const int j = lane + k * kWarp;
    v[k] = j < nvec ? reinterpret_cast<const float4*>(xr)[j] : float4{0.0f, 0.0f, 0.0f, 0.0f};
    s += (v[k].x + v[k].y) + (v[k].z + v[k].w);
  }
  const float mu = warp_sum(s) / static_cast<float>(dim);
  float ss = 0.0f;
MAPET_UNROLL
  for (int k = 0; k < kVec; ++k) {
    if (lane + k * kWarp >= nvec) continue;
    const float a = v[k].x - mu, b = v[k].y - mu, c = v[k].z - mu, d = v[k].w - mu;
    ss += (a * a + b * b) + (c * c + d * d);
  }
  const float r = 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(dim) + eps);
MAPET_UNROLL
  for (int k = 0; k < kVec; ++k) {
    const int j = lane + k * kWarp;
    if (j >= nvec) continue;
    const float4 g = reinterpret_cast<const float4*>(gamma)[j], b = reinterpret_cast<const float4*>(beta)[j];
    reinterpret_cast<float4*>(yr)[j] = float4{(v[k].x - mu) * r * g.x + b.x, (v[k].y - mu) * r * g.y + b.y,
                                              (v[k].z - mu) * r * g.z + b.z, (v[k].w - mu) * r * g.w + b.w};
  }
  mu_out = mu;
  r_out = r;
}

__device__ __forceinline__ void forward_row_generic(const float* __restrict__ xr, const float* __restrict__ gamma,
                                                    const float* __restrict__ beta, float* __restrict__ yr, int dim,
                                                    float eps, float& mu_out, float& r_out) {
  const int lane = threadIdx.x % kWarp;
  float s = 0.0f;
  for (int j = lane; j < dim; j += kWarp) s += xr[j];
  const float mu = warp_sum(s) / static_cast<float>(dim);
  float ss = 0.0f;
  for (int j = lane; j < dim; j += kWarp) {
    const float d = xr[j] - mu;
    ss += d * d;
  }
  const float r = 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(dim) + eps);
  for (int j = lane; j < dim; j += kWarp) yr[j] = (xr[j] - mu) * r * gamma[j] + beta[j];
  mu_out = mu;
  r_out = r;
}

template <int kVec>  // 0: the generic path
__global__ void __launch_bounds__(kThreads)
    layernorm_forward_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                             const float* __restrict__ beta, float* __restrict__ y, float* __restrict__ mean,
                             float* __restrict__ rstd, int64_t rows, int dim, float eps) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; i < rows; i += stride) {
    float mu, r;
    if constexpr (kVec > 0) forward_row_cached<kVec>(x + i * dim, gamma, beta, y + i * dim, dim, eps, mu, r);
    else forward_row_generic(x + i * dim, gamma, beta, y + i * dim, dim, eps, mu, r);
    if (threadIdx.x % kWarp == 0) {
      mean[i] = mu;
      rstd[i] = r;
    }
  }
}

// ---- backward --------------------------------------------------------------
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma

template <int kVec>
__device__ __forceinline__ void backward_row_cached(const float* __restrict__ dyr, const float* __restrict__ xr,
                                                    const float* __restrict__ gamma, float mu, float r,
                                                    float* __restrict__ dxr, int dim) {
  const int lane = threadIdx.x % kWarp, nvec = dim / 4;
  float4 xv[kVec], dv[kVec];
  float sg = 0.0f, sgx = 0.0f;
MAPET_UNROLL
  for (int k = 0; k < kVec; ++k) {
    const int j = lane + k * kWarp;
    xv[k] = dv[k] = float4{0.0f, 0.0f, 0.0f, 0.0f};
    if (j >= nvec) continue;
    xv[k] = reinterpret_cast<const float4*>(xr)[j];
    dv[k] = reinterpret_cast<const float4*>(dyr)[j];
    const float4 g = reinterpret_cast<const float4*>(gamma)[j];
    const float g0 = dv[k].x * g.x, g1 = dv[k].y * g.y, g2 = dv[k].z * g.z, g3 = dv[k].w * g.w;
    sg += (g0 + g1) + (g2 + g3);
    sgx += (g0 * ((xv[k].x - mu) * r) + g1 * ((xv[k].y - mu) * r)) +
           (g2 * ((xv[k].z - mu) * r) + g3 * ((xv[k].w - mu) * r));
  }
  const float mg = warp_sum(sg) / static_cast<float>(dim), mgx = warp_sum(sgx) / static_cast<float>(dim);
MAPET_UNROLL
  for (int k = 0; k < kVec; ++k) {
    const int j = lane + k * kWarp;
    if (j >= nvec) continue;
    const float4 g = reinterpret_cast<const float4*>(gamma)[j];
    reinterpret_cast<float4*>(dxr)[j] = float4{r * (dv[k].x * g.x - mg - ((xv[k].x - mu) * r) * mgx),
                                               r * (dv[k].y * g.y - mg - ((xv[k].y - mu) * r) * mgx),
                                               r * (dv[k].z * g.z - mg - ((xv[k].z - mu) * r) * mgx),
                                               r * (dv[k].w * g.w - mg - ((xv[k].w - mu) * r) * mgx)};
  }
}

__device__ __forceinline__ void backward_row_generic(const float* __restrict__ dyr, const float* __restrict__ xr,
                                                     const float* __restrict__ gamma, float mu, float r,
                                                     float* __restrict__ dxr, int dim) {
  const int lane = threadIdx.x % kWarp;
  float sg = 0.0f, sgx = 0.0f;
  for (int j = lane; j < dim; j += kWarp) {
    const float g = dyr[j] * gamma[j];
    sg += g;
    sgx += g * ((xr[j] - mu) * r);
  }
  const float mg = warp_sum(sg) / static_cast<float>(dim), mgx = warp_sum(sgx) / static_cast<float>(dim);
  for (int j = lane; j < dim; j += kWarp) dxr[j] = r * (dyr[j] * gamma[j] - mg - ((xr[j] - mu) * r) * mgx);
}

// Block c (grid-strided) owns rows [c*kChunkRows, ...): dx of its rows, and
// partial[c][0][:] = sum of dy * xhat, partial[c][1][:] = sum of dy over them.
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    layernorm_backward_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                              const float* __restrict__ gamma, const float* __restrict__ mean,
                              const float* __restrict__ rstd, float* __restrict__ dx, float* __restrict__ partial,
                              int64_t rows, int dim, int64_t chunks) {
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const int64_t r0 = c * detail::kChunkRows, r1 = rows < r0 + detail::kChunkRows ? rows : r0 + detail::kChunkRows;
    for (int64_t i = r0 + threadIdx.x / kWarp; i < r1; i += kWarps) {
      if constexpr (kVec > 0) backward_row_cached<kVec>(dy + i * dim, x + i * dim, gamma, mean[i], rstd[i], dx + i * dim, dim);
      else backward_row_generic(dy + i * dim, x + i * dim, gamma, mean[i], rstd[i], dx + i * dim, dim);
    }
    // Column partials: each thread a column, the chunk's rows in order (coalesced across the warp).
    for (int j = threadIdx.x; j < dim; j += kThreads) {
      float ag = 0.0f, ab = 0.0f;
      for (int64_t i = r0; i < r1; ++i) {
        const float d = dy[i * dim + j];
        ag += d * (x[i * dim + j] - mean[i]) * rstd[i];
        ab += d;
      }
      partial[(c * 2 + 0) * dim + j] = ag;
      partial[(c * 2 + 1) * dim + j] = ab;
    }
  }
}

// The register-cached instantiation for dim, or 0 (generic).
int vec_for(int64_t dim, std::initializer_list<const void*> ptrs) {
  if (dim % 4 != 0 || dim > 4 * kWarp * kMaxVec) return 0;
  for (const void* p : ptrs)
    if (!detail::aligned16(p)) return 0;
  const int64_t per_lane = (dim / 4 + kWarp - 1) / kWarp;
  return per_lane <= 2 ? 2 : per_lane <= 4 ? 4 : kMaxVec;
}

}  // namespace

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t dim, float eps, void* stream) {
  if (rows == 0) return;
  const unsigned grid = detail::grid_for(rows, kWarps);
  auto s = static_cast<cudaStream_t>(stream);
  const int d = static_cast<int>(dim);
  switch (vec_for(dim, {x, gamma, beta, y})) {
    case 2: MAPET_LAUNCH(layernorm_forward_kernel<2>, grid, kThreads, 0, s, x, gamma, beta, y, mean, rstd, rows, d, eps); break;
    case 4: MAPET_LAUNCH(layernorm_forward_kernel<4>, grid, kThreads, 0, s, x, gamma, beta, y, mean, rstd, rows, d, eps); break;
    case 8: MAPET_LAUNCH(layernorm_forward_kernel<8>, grid, kThreads, 0, s, x, gamma, beta, y, mean, rstd, rows, d, eps); break;
    default: MAPET_LAUNCH(layernorm_forward_kernel<0>, grid, kThreads, 0, s, x, gamma, beta, y, mean, rstd, rows, d, eps);
  }
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim, void* stream) {
  const int64_t chunks = detail::chunks_for(rows);
  detail::Scratch<float> partial(static_cast<size_t>(chunks * 2 * dim), stream);
  auto s = static_cast<cudaStream_t>(stream);
  const int d = static_cast<int>(dim);
  // rows == 0 still runs one (empty) chunk: the sums are zeros, as on the CPU.
  const unsigned grid = detail::grid_for(chunks, 1);
  switch (vec_for(dim, {dy, x, gamma, dx})) {
    case 2: MAPET_LAUNCH(layernorm_backward_kernel<2>, grid, kThreads, 0, s, dy, x, gamma, mean, rstd, dx, partial.get(), rows, d, chunks); break;
    case 4: MAPET_LAUNCH(layernorm_backward_kernel<4>, grid, kThreads, 0, s, dy, x, gamma, mean, rstd, dx, partial.get(), rows, d, chunks); break;
    case 8: MAPET_LAUNCH(layernorm_backward_kernel<8>, grid, kThreads, 0, s, dy, x, gamma, mean, rstd, dx, partial.get(), rows, d, chunks); break;
    default: MAPET_LAUNCH(layernorm_backward_kernel<0>, grid, kThreads, 0, s, dy, x, gamma, mean, rstd, dx, partial.get(), rows, d, chunks);
  }
  detail::sum_chunks(partial.get(), detail::ColumnOutputs{{dgamma, dbeta}}, 2, chunks, dim, stream);
}

}  // namespace mapet::cuda
