// Dropout and drop-path on the GPU: the twins of kernels/cpu/dropout.h
// (device pointers; the stream last, null: the default stream). The draws are
// kernels/common/philox.h at the same (seed, offset + i) as on the CPU.
#pragma once
#include <cstdint>

namespace mapet::cuda {

void dropout_forward(const float* x, float* y, uint8_t* keep, int64_t n, float p, uint64_t seed, uint64_t offset,
                     void* stream = nullptr);
void dropout_backward(const uint8_t* keep, const float* dy, float* dx, int64_t n, float p, void* stream = nullptr);
void drop_path_forward(const float* x, float* y, float* row_scale, int64_t rows, int64_t row_len, float p,
                       uint64_t seed, uint64_t offset, void* stream = nullptr);
void drop_path_row_scales(float* row_scale, int64_t rows, float p, uint64_t seed, uint64_t offset,
                          void* stream = nullptr);
void row_scale_apply(const float* x, const float* row_scale, float* y, int64_t rows, int64_t row_len,
                     void* stream = nullptr);

}  // namespace mapet::cuda
