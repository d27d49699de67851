// Build check only (nvcc, not run): calls every wrapper of the dialect once,
// so ptxas assembles each inline-PTX form for sm_90. Under simt the same
// wrappers are exercised by simt_tests.
#include "kernels/cuda/dialect.cuh"

__global__ void mapet_dialect_check(const float* g, float* out) {
  __shared__ __align__(16) float s[64];
  cp_async_16(&s[0], g);
  cp_async_8(&s[4], g);
  cp_async_4(&s[6], g);
  cp_async_16_zfill(&s[8], g, 4);
  cp_async_8_zfill(&s[12], g, 0);
  cp_async_4_zfill(&s[14], g, 4);
  cp_async_commit();
  cp_async_wait<1>();
  cp_async_wait_all();
  __syncthreads();
  uint32_t r[4];
  ldmatrix_x1(r, &s[(threadIdx.x % 8) * 4]);
  ldmatrix_x2(r, &s[(threadIdx.x % 16) * 4]);
  ldmatrix_x4(r, &s[(threadIdx.x % 16) * 4]);
  ldmatrix_x1_trans(r, &s[(threadIdx.x % 8) * 4]);
  ldmatrix_x2_trans(r, &s[(threadIdx.x % 16) * 4]);
  ldmatrix_x4_trans(r, &s[(threadIdx.x % 16) * 4]);
  float c[4] = {0, 0, 0, 0}, d[4];
  mma_m16n8k16_bf16_f32(d, r, r + 2, c);
  out[threadIdx.x] = d[0] + d[1] + d[2] + d[3];
}

void mapet_dialect_check_launch(const float* g, float* out, cudaStream_t stream) {
  MAPET_SET_MAX_DYNAMIC_SMEM(mapet_dialect_check, 64 * 1024);
  MAPET_LAUNCH(mapet_dialect_check, 1, 32, 0, stream, g, out);
}
