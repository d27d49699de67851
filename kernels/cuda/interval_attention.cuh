// The fused interval attention (MaPeT two-stream attention) on the GPU: the
// twins of kernels/cpu/interval_attention.h (device pointers; the stream last,
// null: the default stream). The per-row math is kernels/common/interval_attention.h.
#pragma once
#include "kernels/common/interval_attention.h"

namespace mapet::cuda {

using common::HeadsView;
using common::IntervalAttentionShape;
using common::OutHeadsView;

void interval_attention_forward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                OutHeadsView out, float* lse, void* stream = nullptr);
void interval_attention_backward(const IntervalAttentionShape& s, HeadsView q, HeadsView k, HeadsView v,
                                 HeadsView out, const float* lse, HeadsView dout, OutHeadsView dq, OutHeadsView dk,
                                 OutHeadsView dv, void* stream = nullptr);

}  // namespace mapet::cuda
