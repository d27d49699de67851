// mma.sync.m16n8k16 (bf16 -> f32) and ldmatrix against the register layouts
// of the PTX ISA, restated here from the ISA's text; and the two together as
// a kernel would use them.
#include <cuda_bf16.h>

#include <cmath>
#include <random>
#include <vector>

#include "tests/simt/simt_test.h"

namespace {

using bf16 = __nv_bfloat16;

uint16_t bits(bf16 h) { return __bfloat16_as_ushort(h); }

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type":
// groupID = laneid >> 2, threadID_in_group = laneid % 4;
// A: row = groupID (a0,a1,a4,a5) or groupID + 8 (a2,a3,a6,a7),
//    col = threadID_in_group * 2 + (i & 1), + 8 for i >= 4;
// B: row = threadID_in_group * 2 + (i & 1), + 8 for i >= 2, col = groupID;
// C/D: row = groupID (c0,c1) or groupID + 8 (c2,c3), col = threadID_in_group * 2 + (i & 1).
__device__ int a_row(int lane, int i) { return (lane >> 2) + ((i == 2 || i == 3 || i == 6 || i == 7) ? 8 : 0); }
__device__ int a_col(int lane, int i) { return (lane % 4) * 2 + (i & 1) + (i >= 4 ? 8 : 0); }
__device__ int b_row(int lane, int i) { return (lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0); }
__device__ int c_row(int lane, int i) { return (lane >> 2) + (i >= 2 ? 8 : 0); }
__device__ int c_col(int lane, int i) { return (lane % 4) * 2 + (i & 1); }

__device__ uint32_t pack(bf16 lo, bf16 hi) { return uint32_t(bits(lo)) | uint32_t(bits(hi)) << 16; }

// D = A (16x16) * B (16x8) + C, fragments loaded straight from global memory.
// swap_bug: load a1 and a2 swapped, the kind of lane-indexing slip a GPU punishes.
__global__ void mma_from_global(const bf16* A, const bf16* B, const float* C, float* D, int swap_bug) {
  const int lane = threadIdx.x;
  bf16 ae[8], be[4];
  for (int i = 0; i < 8; ++i) ae[i] = A[a_row(lane, i) * 16 + a_col(lane, i)];
  for (int i = 0; i < 4; ++i) be[i] = B[b_row(lane, i) * 8 + (lane >> 2)];
  if (swap_bug) std::swap(ae[1], ae[2]);
  uint32_t a[4] = {pack(ae[0], ae[1]), pack(ae[2], ae[3]), pack(ae[4], ae[5]), pack(ae[6], ae[7])};
  uint32_t b[2] = {pack(be[0], be[1]), pack(be[2], be[3])};
  float c[4];
  for (int i = 0; i < 4; ++i) c[i] = C[c_row(lane, i) * 8 + c_col(lane, i)];
  float d[4];
  mma_m16n8k16_bf16_f32(d, a, b, c);
  for (int i = 0; i < 4; ++i) D[c_row(lane, i) * 8 + c_col(lane, i)] = d[i];
}

struct MmaCase {
  std::vector<bf16> A, B;
  std::vector<float> C, want, scale;  // want: f32 reference; scale: sum of |terms| per element
  explicit MmaCase(uint32_t seed) : A(256), B(128), C(128), want(128), scale(128) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    for (auto& x : A) x = __float2bfloat16(u(rng));
    for (auto& x : B) x = __float2bfloat16(u(rng));
    for (auto& x : C) x = u(rng);
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 8; ++c) {
        float acc = C[r * 8 + c], s = std::fabs(acc);
        for (int k = 0; k < 16; ++k) {
          const float p = __bfloat162float(A[r * 16 + k]) * __bfloat162float(B[k * 8 + c]);
          acc += p;
          s += std::fabs(p);
        }
        want[r * 8 + c] = acc;
        scale[r * 8 + c] = s;
      }
  }
};

TEST(SimtTensorCore, MmaMatchesAnF32ReferenceOfBf16Inputs) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    MmaCase m(seed);
    std::vector<float> D(128);
    MAPET_LAUNCH(mma_from_global, 1, 32, 0, nullptr, m.A.data(), m.B.data(), m.C.data(), D.data(), 0);
    for (int i = 0; i < 128; ++i) {
      // Exact products; only the summation order differs from the reference: a few ulps of the terms' scale.
      EXPECT_NEAR(D[i], m.want[i], 4 * m.scale[i] * 0x1p-24f) << "element " << i << " seed " << seed;
    }
  }
}

TEST(SimtTensorCore, ALaneIndexingBugGivesWrongResults) {
  MmaCase m(4);
  std::vector<float> D(128);
  MAPET_LAUNCH(mma_from_global, 1, 32, 0, nullptr, m.A.data(), m.B.data(), m.C.data(), D.data(), 1);
  int wrong = 0;
  for (int i = 0; i < 128; ++i) wrong += std::fabs(D[i] - m.want[i]) > 1e-3f * m.scale[i];
  EXPECT_GT(wrong, 64) << "a1/a2 swapped must break most of D";
}

// d may be c: accumulate two k-steps in place, K = 32.
__global__ void mma_accumulate(const bf16* A, const bf16* B, float* D) {
  const int lane = threadIdx.x;
  float acc[4] = {0, 0, 0, 0};
  for (int ks = 0; ks < 2; ++ks) {
    bf16 ae[8], be[4];
    for (int i = 0; i < 8; ++i) ae[i] = A[a_row(lane, i) * 32 + ks * 16 + a_col(lane, i)];
    for (int i = 0; i < 4; ++i) be[i] = B[(ks * 16 + b_row(lane, i)) * 8 + (lane >> 2)];
    uint32_t a[4] = {pack(ae[0], ae[1]), pack(ae[2], ae[3]), pack(ae[4], ae[5]), pack(ae[6], ae[7])};
    uint32_t b[2] = {pack(be[0], be[1]), pack(be[2], be[3])};
    mma_m16n8k16_bf16_f32(acc, a, b, acc);
  }
  for (int i = 0; i < 4; ++i) D[c_row(lane, i) * 8 + c_col(lane, i)] = acc[i];
}

TEST(SimtTensorCore, MmaAccumulatesInPlace) {
  std::vector<bf16> A(16 * 32), B(32 * 8);
  for (int i = 0; i < 16 * 32; ++i) A[i] = __float2bfloat16(float(i % 7) - 3.0f);  // small integers: exact sums
  for (int i = 0; i < 32 * 8; ++i) B[i] = __float2bfloat16(float(i % 5) - 2.0f);
  std::vector<float> D(128);
  MAPET_LAUNCH(mma_accumulate, 1, 32, 0, nullptr, A.data(), B.data(), D.data());
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      float want = 0;
      for (int k = 0; k < 32; ++k) want += __bfloat162float(A[r * 32 + k]) * __bfloat162float(B[k * 8 + c]);
      EXPECT_EQ(D[r * 8 + c], want);
    }
}

// ldmatrix: four 8x8 b16 matrices whose rows are scattered in shared memory
// (row r of matrix m at slot 8m + (3r mod 8)): each lane supplies one row address.
template <int Num, bool Trans>
__global__ void load_matrices(uint32_t* out) {
  __shared__ __align__(16) uint16_t s[32][8];
  for (int i = threadIdx.x; i < 32 * 8; i += 32) {
    const int m = i / 64, r = i / 8 % 8, c = i % 8;
    s[8 * m + (3 * r) % 8][c] = static_cast<uint16_t>(m * 64 + r * 8 + c);
  }
  __syncwarp();
  const int lane = threadIdx.x, m = lane / 8 % Num, r = lane % 8;
  uint32_t reg[4] = {0, 0, 0, 0};
  const void* row = &s[8 * m + (3 * r) % 8][0];
  if (Num == 1) Trans ? ldmatrix_x1_trans(reg, row) : ldmatrix_x1(reg, row);
  if (Num == 2) Trans ? ldmatrix_x2_trans(reg, row) : ldmatrix_x2(reg, row);
  if (Num == 4) Trans ? ldmatrix_x4_trans(reg, row) : ldmatrix_x4(reg, row);
  for (int i = 0; i < 4; ++i) out[lane * 4 + i] = reg[i];
}

// The ISA: lane l holds row l/4, columns 2(l%4), 2(l%4)+1 of each matrix
// (low half first); .trans holds the transposed matrix the same way.
template <int Num, bool Trans>
void check_ldmatrix() {
  std::vector<uint32_t> out(128);
  MAPET_LAUNCH((load_matrices<Num, Trans>), 1, 32, 0, nullptr, out.data());
  for (int lane = 0; lane < 32; ++lane)
    for (int m = 0; m < Num; ++m) {
      const int i = lane / 4, j = 2 * (lane % 4);
      auto value = [&](int r, int c) { return uint32_t(m * 64 + r * 8 + c); };
      const uint32_t want = Trans ? value(j, i) | value(j + 1, i) << 16 : value(i, j) | value(i, j + 1) << 16;
      EXPECT_EQ(out[lane * 4 + m], want) << "x" << Num << (Trans ? ".trans" : "") << " lane " << lane << " reg " << m;
    }
}

TEST(SimtTensorCore, LdmatrixLayouts) {
  check_ldmatrix<1, false>();
  check_ldmatrix<2, false>();
  check_ldmatrix<4, false>();
  check_ldmatrix<1, true>();
  check_ldmatrix<2, true>();
  check_ldmatrix<4, true>();
}

// The usual tensor-core GEMM step: A (16 x 16, row-major) by ldmatrix_x4,
// B by ldmatrix_x2_trans from K x N row-major or by ldmatrix_x2 from N x K.
__global__ void gemm_tile(const bf16* A, const bf16* B, float* D, int b_is_nk) {
  __shared__ __align__(16) bf16 sa[16][16];
  __shared__ __align__(16) bf16 sb[16][8];
  __shared__ __align__(16) bf16 sbt[8][16];
  const int lane = threadIdx.x;
  for (int i = lane; i < 256; i += 32) sa[i / 16][i % 16] = A[i];
  for (int i = lane; i < 128; i += 32) {
    sb[i / 8][i % 8] = B[i];
    sbt[i % 8][i / 8] = B[i];
  }
  __syncwarp();
  uint32_t a[4], b[2];
  ldmatrix_x4(a, &sa[lane % 16][(lane / 16) * 8]);
  if (b_is_nk) {
    ldmatrix_x2(b, &sbt[lane % 8][(lane / 8 % 2) * 8]);
  } else {
    ldmatrix_x2_trans(b, &sb[lane % 16][0]);
  }
  float c[4] = {0, 0, 0, 0}, d[4];
  mma_m16n8k16_bf16_f32(d, a, b, c);
  for (int i = 0; i < 4; ++i) D[c_row(lane, i) * 8 + c_col(lane, i)] = d[i];
}

TEST(SimtTensorCore, LdmatrixFeedsMma) {
  MmaCase m(5);
  std::fill(m.C.begin(), m.C.end(), 0.0f);
  for (int b_is_nk = 0; b_is_nk < 2; ++b_is_nk) {
    std::vector<float> D(128);
    MAPET_LAUNCH(gemm_tile, 1, 32, 0, nullptr, m.A.data(), m.B.data(), D.data(), b_is_nk);
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 8; ++c) {
        float want = 0, scale = 0;
        for (int k = 0; k < 16; ++k) {
          const float p = __bfloat162float(m.A[r * 16 + k]) * __bfloat162float(m.B[k * 8 + c]);
          want += p;
          scale += std::fabs(p);
        }
        EXPECT_NEAR(D[r * 8 + c], want, 4 * scale * 0x1p-24f) << r << "," << c << " b_is_nk " << b_is_nk;
      }
  }
}

__global__ void mma_half_warp(float* D) {
  uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
  float c[4] = {0, 0, 0, 0};
  if (threadIdx.x < 16) mma_m16n8k16_bf16_f32(D + 4 * threadIdx.x, a, b, c);  // .aligned: the whole warp must
}

TEST(SimtTensorCore, MmaNeedsTheWholeWarp) {
  std::vector<float> D(128);
  expect_kernel_error([&] { MAPET_LAUNCH(mma_half_warp, 1, 32, 0, nullptr, D.data()); },
                      {"kernel 'mma_half_warp'", "mma_m16n8k16_bf16_f32", "exited"});
}

__global__ void ldmatrix_misaligned(uint32_t* out) {
  __shared__ __align__(16) uint16_t s[8 * 8 + 8];
  for (int i = threadIdx.x; i < 72; i += 32) s[i] = 0;
  __syncwarp();
  uint32_t r[1];
  ldmatrix_x1(r, &s[threadIdx.x % 8 * 8 + 1]);  // 2 bytes off
  out[threadIdx.x] = r[0];
}

TEST(SimtTensorCore, LdmatrixRowsMustBe16ByteAligned) {
  std::vector<uint32_t> out(32);
  expect_kernel_error([&] { MAPET_LAUNCH(ldmatrix_misaligned, 1, 32, 0, nullptr, out.data()); },
                      {"kernel 'ldmatrix_misaligned'", "thread (0,0,0)", "ldmatrix_x1", "not 16-byte aligned"});
}

}  // namespace
