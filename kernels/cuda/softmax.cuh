// Row softmax on the GPU: the twins of kernels/cpu/softmax.h (device pointers;
// the stream last, null: the default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, float scale = 1.0f, void* stream = nullptr);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale = 1.0f,
                      void* stream = nullptr);
void masked_softmax_inplace(float* x, const uint8_t* mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk,
                            int64_t mask_b, int64_t mask_h, void* stream = nullptr);

}  // namespace mapet::cuda
