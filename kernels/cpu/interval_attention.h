// Fused attention under an interval mask (the MaPeT two-stream attention), CPU.
//
//   out[b, h, i] = softmax_j(scale * q_i . k_j over the keys row i may see) v
//
// Row i sees keys [0, real_end[i]) and [num_real + mask_start[i], Tk)
// (kernels/common/interval_mask.h). Flash-style: K/V are walked in tiles,
// softmax is online, only the log-sum-exp of each row is kept for the backward,
// and no Tq x Tk matrix exists. Tiles wholly outside a block of rows' intervals
// are skipped. A row that sees nothing outputs zeros and gets zero gradients.
//
// Under --amp (gemm_precision() == bf16) on a CPU with AVX-512 BF16 the tile
// products take bf16 inputs with f32 sums, as the GEMMs do; softmax, the
// running sums and the outputs stay f32.
//
// Threads (OpenMP) split batch x heads; every (b, h) is computed by one thread
// in a fixed order, so results do not depend on the number of threads.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

#include "kernels/common/interval_attention.h"

namespace mapet::cpu {

using common::HeadsView;
using common::IntervalAttentionShape;
using common::OutHeadsView;

// out: [B, H, Tq, d] (any strides, unit in d); lse: contiguous [B, H, Tq],
// the log-sum-exp of each row's scaled scores (-inf for a row that sees nothing).
MAPET_ISA_FUNCTION(void, interval_attention_forward, (const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                OutHeadsView out, float* lse),
                   (s, q, k, v, out, lse))

// out and lse from the forward; dout [B, H, Tq, d]; dq [B, H, Tq, d], dk and
// dv [B, H, Tk, d] overwritten (all with any strides, unit in d; the outputs
// must not overlap each other or the inputs).
MAPET_ISA_FUNCTION(void, interval_attention_backward, (const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                 HeadsView out, const float* lse, HeadsView dout, OutHeadsView dq, OutHeadsView dk,
                                 OutHeadsView dv),
                   (s, q, k, v, out, lse, dout, dq, dk, dv))

}  // namespace mapet::cpu
