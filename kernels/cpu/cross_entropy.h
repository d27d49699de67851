// Fused log-softmax + cross-entropy over rows of logits, with label smoothing
// and an ignore index (timm's LabelSmoothingCrossEntropy / torch's
// cross_entropy(label_smoothing=, ignore_index=) semantics).
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

// Per-row losses into row_loss (0 for ignored rows) and log-sum-exp into lse.
// Returns the number of rows that count.
MAPET_ISA_FUNCTION(int64_t, cross_entropy_forward, (const float* logits, const int64_t* labels, float* row_loss, float* lse, int64_t rows,
                              int64_t classes, float smoothing, int64_t ignore_index),
                   (logits, labels, row_loss, lse, rows, classes, smoothing, ignore_index))

// dlogits = grad_scale * (softmax - target) for counted rows, 0 for ignored rows.
MAPET_ISA_FUNCTION(void, cross_entropy_backward, (const float* logits, const int64_t* labels, const float* lse, float* dlogits,
                            int64_t rows, int64_t classes, float smoothing, int64_t ignore_index, float grad_scale),
                   (logits, labels, lse, dlogits, rows, classes, smoothing, ignore_index, grad_scale))

}  // namespace mapet::cpu
