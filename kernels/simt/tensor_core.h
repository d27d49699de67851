// Tensor-core instructions as warp collectives, with the register layouts of
// the PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point type",
// "Warp-level matrix load instruction: ldmatrix"). Each lane hands in its own
// fragment registers; the completion rebuilds the matrices from all 32 lanes
// exactly as the hardware would, so a lane-indexing mistake gives the same
// wrong answer here as on a GPU. Both are .sync.aligned: the whole warp
// (mask 0xffffffff) must execute the same call.
//
// Packing: a .b32 register holding two 16-bit elements keeps the element with
// the lower index in its low half ("Elements (low to high)" in the ISA).
//
// mma accumulation order: D = C + sum_k A[r][k] * B[k][c], the 16 products
// (exact: bf16 x bf16 fits in f32) summed in double with C and rounded once
// to f32 — in practice the correctly rounded result. Tensor cores align and
// truncate partial sums in their own way, so a GPU's D can differ from this
// in the last bits; compare against it with a tolerance of a few f32 ulps.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/simt/sync.h"

namespace mapet::simt::detail {

inline float bf16_bits_to_float(uint32_t bits16) {
  const uint32_t u = bits16 << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline void mma_m16n8k16_bf16_complete(WarpRequest* const* lanes, uint32_t) {
  float A[16][16], B[16][8], C[16][8];
  for (uint32_t lane = 0; lane < 32; ++lane) {
    const uint32_t group = lane >> 2, tig = lane % 4;  // groupID, threadID_in_group
    const auto* a = static_cast<const uint32_t*>(lanes[lane]->in[0]);
    const auto* b = static_cast<const uint32_t*>(lanes[lane]->in[1]);
    const auto* c = static_cast<const float*>(lanes[lane]->in[2]);
    for (uint32_t i = 0; i < 8; ++i) {  // a0..a7 in a[0..3]
      const uint32_t row = group + ((i >> 1) & 1) * 8;  // groupID for a0,a1,a4,a5; +8 for a2,a3,a6,a7
      const uint32_t col = tig * 2 + (i & 1) + (i >= 4 ? 8 : 0);
      A[row][col] = bf16_bits_to_float(a[i / 2] >> (16 * (i & 1)) & 0xffff);
    }
    for (uint32_t i = 0; i < 4; ++i) {  // b0..b3 in b[0..1]
      const uint32_t row = tig * 2 + (i & 1) + (i >= 2 ? 8 : 0);
      B[row][group] = bf16_bits_to_float(b[i / 2] >> (16 * (i & 1)) & 0xffff);
    }
    for (uint32_t i = 0; i < 4; ++i) C[group + (i >= 2 ? 8 : 0)][tig * 2 + (i & 1)] = c[i];
  }
  // All inputs are gathered before any output is written: d may alias c.
  for (uint32_t lane = 0; lane < 32; ++lane) {
    const uint32_t group = lane >> 2, tig = lane % 4;
    auto* d = static_cast<float*>(lanes[lane]->out);
    for (uint32_t i = 0; i < 4; ++i) {
      const uint32_t row = group + (i >= 2 ? 8 : 0), col = tig * 2 + (i & 1);
      double acc = 0;
      for (uint32_t k = 0; k < 16; ++k) acc += double(A[row][k]) * double(B[k][col]);
      d[i] = static_cast<float>(acc + double(C[row][col]));
    }
  }
}

// ldmatrix.sync.aligned.m8n8.xNum{.trans}.shared.b16: matrix m's eight row
// addresses come from lanes 8m..8m+7; without .trans lane l receives row l/4,
// columns 2(l%4) and 2(l%4)+1 of each matrix; with .trans it receives column
// l/4, rows 2(l%4) and 2(l%4)+1.
template <int Num, bool Trans>
void ldmatrix_complete(WarpRequest* const* lanes, uint32_t) {
  uint16_t M[Num][8][8];
  for (int m = 0; m < Num; ++m) {
    for (int row = 0; row < 8; ++row) {
      const uint32_t lane = static_cast<uint32_t>(8 * m + row);
      const void* p = lanes[lane]->in[0];
      if (reinterpret_cast<uintptr_t>(p) % 16 != 0) {
        throw WarpFault{lane, "row address " + std::to_string(reinterpret_cast<uintptr_t>(p)) +
                                  " of matrix " + std::to_string(m) + " is not 16-byte aligned"};
      }
      std::memcpy(M[m][row], p, 16);
    }
  }
  for (uint32_t lane = 0; lane < 32; ++lane) {
    auto* r = static_cast<uint32_t*>(lanes[lane]->out);
    const uint32_t i = lane / 4, j = 2 * (lane % 4);
    for (int m = 0; m < Num; ++m) {
      const uint32_t lo = Trans ? M[m][j][i] : M[m][i][j];
      const uint32_t hi = Trans ? M[m][j + 1][i] : M[m][i][j + 1];
      r[m] = lo | hi << 16;
    }
  }
}

template <int Num, bool Trans>
void ldmatrix(const char* name, uint32_t* r, const void* smem_row, const std::source_location& site) {
  WarpRequest q;
  q.fn = &ldmatrix_complete<Num, Trans>;
  q.name = name;
  q.mask = 0xffffffffu;
  q.in[0] = smem_row;
  q.out = r;
  warp_collective(q, site);
}

}  // namespace mapet::simt::detail

// D = A * B + C for one 16x8x16 tile: a[4] holds this lane's eight bf16 of A
// (row-major 16x16), b[2] four bf16 of B (16x8, "col"), c/d four f32 of C/D.
inline void mma_m16n8k16_bf16_f32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4],
                                  MAPET_SIMT_HERE) {
  mapet::simt::detail::WarpRequest q;
  q.fn = &mapet::simt::detail::mma_m16n8k16_bf16_complete;
  q.name = "mma_m16n8k16_bf16_f32";
  q.mask = 0xffffffffu;
  q.in[0] = a;
  q.in[1] = b;
  q.in[2] = c;
  q.out = d;
  mapet::simt::detail::warp_collective(q, loc);
}

// Loads 1, 2 or 4 8x8 b16 matrices from shared memory; `smem_row` is the row
// this lane supplies (lanes 0-7 for x1, 0-15 for x2, all for x4; 16-byte aligned).
inline void ldmatrix_x1(uint32_t r[1], const void* smem_row, MAPET_SIMT_HERE) {
  mapet::simt::detail::ldmatrix<1, false>("ldmatrix_x1", r, smem_row, loc);
}
inline void ldmatrix_x2(uint32_t r[2], const void* smem_row, MAPET_SIMT_HERE) {
  mapet::simt::detail::ldmatrix<2, false>("ldmatrix_x2", r, smem_row, loc);
}
inline void ldmatrix_x4(uint32_t r[4], const void* smem_row, MAPET_SIMT_HERE) {
  mapet::simt::detail::ldmatrix<4, false>("ldmatrix_x4", r, smem_row, loc);
}
inline void ldmatrix_x1_trans(uint32_t r[1], const void* smem_row, MAPET_SIMT_HERE) {
  mapet::simt::detail::ldmatrix<1, true>("ldmatrix_x1_trans", r, smem_row, loc);
}
inline void ldmatrix_x2_trans(uint32_t r[2], const void* smem_row, MAPET_SIMT_HERE) {
  mapet::simt::detail::ldmatrix<2, true>("ldmatrix_x2_trans", r, smem_row, loc);
}
inline void ldmatrix_x4_trans(uint32_t r[4], const void* smem_row, MAPET_SIMT_HERE) {
  mapet::simt::detail::ldmatrix<4, true>("ldmatrix_x4_trans", r, smem_row, loc);
}
