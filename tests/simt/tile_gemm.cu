// One warp per 16 x 8 tile of C: a two-stage cp.async pipeline brings 16 x 16
// of A and 16 x 8 of B into shared memory, ldmatrix turns them into mma
// fragments, mma.sync accumulates in f32. Small and slow on purpose: it shows
// (and, built by nvcc, checks) every tensor-core wrapper of the dialect.
#include "kernels/cuda/dialect.cuh"
#include "tests/simt/tile_gemm.h"

namespace mapet::simt_sample {

namespace {

__global__ void __launch_bounds__(32) tile_gemm_kernel(const __nv_bfloat16* __restrict__ A,
                                                       const __nv_bfloat16* __restrict__ B, float* __restrict__ C,
                                                       int N, int K) {
  __shared__ __align__(16) __nv_bfloat16 sa[2][16][16];
  __shared__ __align__(16) __nv_bfloat16 sb[2][16][8];
  const int lane = threadIdx.x, m0 = blockIdx.y * 16, n0 = blockIdx.x * 8;
  auto load = [&](int stage, int k0) {
    // A: 16 rows of 32 bytes, one 16-byte chunk per lane; B: 16 rows of 16 bytes.
    cp_async_16(&sa[stage][lane / 2][(lane % 2) * 8], A + static_cast<size_t>(m0 + lane / 2) * K + k0 + (lane % 2) * 8);
    if (lane < 16) cp_async_16(&sb[stage][lane][0], B + static_cast<size_t>(k0 + lane) * N + n0);
    cp_async_commit();
  };
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const int steps = K / 16;
  load(0, 0);
  for (int s = 0; s < steps; ++s) {
    if (s + 1 < steps) {
      load((s + 1) % 2, (s + 1) * 16);
      cp_async_wait<1>();  // stage s has landed; stage s + 1 may still be in flight
    } else {
      cp_async_wait<0>();
    }
    __syncwarp();  // every lane's copies of stage s are visible to the whole warp
    uint32_t a[4], b[2];
    ldmatrix_x4(a, &sa[s % 2][lane % 16][(lane / 16) * 8]);
    ldmatrix_x2_trans(b, &sb[s % 2][lane % 16][0]);
    mma_m16n8k16_bf16_f32(acc, a, b, acc);
    __syncwarp();  // stage s is read by all lanes before the next iteration refills it
  }
  const int row = m0 + lane / 4, col = n0 + (lane % 4) * 2;  // the C fragment layout
  C[static_cast<size_t>(row) * N + col] = acc[0];
  C[static_cast<size_t>(row) * N + col + 1] = acc[1];
  C[static_cast<size_t>(row + 8) * N + col] = acc[2];
  C[static_cast<size_t>(row + 8) * N + col + 1] = acc[3];
}

}  // namespace

void tile_gemm(const __nv_bfloat16* A, const __nv_bfloat16* B, float* C, int M, int N, int K, void* stream) {
  if (M == 0 || N == 0) return;
  MAPET_LAUNCH(tile_gemm_kernel, dim3(N / 8, M / 16), 32, 0, static_cast<cudaStream_t>(stream), A, B, C, N, K);
}

}  // namespace mapet::simt_sample
