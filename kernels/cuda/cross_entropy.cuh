// Fused log-softmax + cross-entropy on the GPU: the twins of
// kernels/cpu/cross_entropy.h (device pointers; the stream last, null: the
// default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

// Per-row losses into row_loss (0 for ignored rows) and log-sum-exp into lse.
// Returns the number of rows that count, read back from the device (so this
// waits for the stream); a label outside [0, classes) that is not
// ignore_index throws std::out_of_range, as on the CPU.
int64_t cross_entropy_forward(const float* logits, const int64_t* labels, float* row_loss, float* lse, int64_t rows,
                              int64_t classes, float smoothing, int64_t ignore_index, void* stream = nullptr);
// dlogits = grad_scale * (softmax - target) for counted rows, 0 for ignored rows.
void cross_entropy_backward(const float* logits, const int64_t* labels, const float* lse, float* dlogits,
                            int64_t rows, int64_t classes, float smoothing, int64_t ignore_index, float grad_scale,
                            void* stream = nullptr);

}  // namespace mapet::cuda
