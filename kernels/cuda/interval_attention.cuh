// The fused interval attention (MaPeT two-stream attention) on the GPU: the
// twins of kernels/cpu/interval_attention.h, with the same arguments (device
// pointers, real_end and mask_start included) plus the precision of the
// products and the stream (null: the default stream).
//
//   bf16: Q, K, V and dO are rounded to bf16 as they are loaded into shared
//         memory and multiplied on tensor cores (mma.sync m16n8k16, f32
//         accumulators); P and dS are rounded to bf16 for the products they
//         enter. Softmax, log-sum-exp, the running sums and all outputs are f32.
//   f32:  the same kernels with plain f32 FMA products (no tensor cores): the
//         f32 CPU twin's results to ~1e-6.
// Head dims 1..128 (d is padded to 32, 64 or 128 inside the kernels).
// The backward is deterministic: no atomics (dQ is its own pass).
#pragma once
#include "kernels/cpu/interval_attention.h"

namespace mapet::cuda {

using cpu::HeadsView;
using cpu::IntervalAttentionShape;
using cpu::OutHeadsView;

enum class AttentionPrecision { f32, bf16 };

void interval_attention_forward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                OutHeadsView out, float* lse, AttentionPrecision precision, void* stream = nullptr);
void interval_attention_backward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                 HeadsView out, const float* lse, HeadsView dout, OutHeadsView dq, OutHeadsView dk,
                                 OutHeadsView dv, AttentionPrecision precision, void* stream = nullptr);

// The engine's calls (engine/ops/interval_attention.cpp): f32 products until
// the device precision policy (--amp on the GPU, issue #13) chooses bf16 here.
inline void interval_attention_forward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                       OutHeadsView out, float* lse, void* stream = nullptr) {
  interval_attention_forward(s, q, k, v, out, lse, AttentionPrecision::f32, stream);
}
inline void interval_attention_backward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                        HeadsView out, const float* lse, HeadsView dout, OutHeadsView dq,
                                        OutHeadsView dk, OutHeadsView dv, void* stream = nullptr) {
  interval_attention_backward(s, q, k, v, out, lse, dout, dq, dk, dv, AttentionPrecision::f32, stream);
}

}  // namespace mapet::cuda
