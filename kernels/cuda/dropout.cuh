// Dropout and drop-path on the GPU: the twins of the dropout kernels in
// kernels/cpu/elementwise.h (device pointers; the stream last, null: the
// default stream). The draws are kernels/common/philox.h at the same
// (seed, offset + i) as on the CPU, so both keep the same elements.
#pragma once
#include <cstdint>

namespace mapet::cuda {

// Inverted dropout: y = x * keep / (1 - p), keep drawn with Philox at (seed, offset + i).
void dropout_forward(const float* x, float* y, uint8_t* keep, int64_t n, float p, uint64_t seed, uint64_t offset,
                     void* stream = nullptr);
// dx = dy * keep / (1 - p) (no kernel yet: engine/cuda_missing.cpp).
void dropout_backward(const uint8_t* keep, const float* dy, float* dx, int64_t n, float p, void* stream = nullptr);
// Drop-path: row r of `rows` is kept with prob 1-p (one draw per row), scaled by 1/(1-p).
void drop_path_forward(const float* x, float* y, float* row_scale, int64_t rows, int64_t row_len, float p,
                       uint64_t seed, uint64_t offset, void* stream = nullptr);
// The per-row scales of drop_path_forward alone: 0 (dropped) or 1/(1-p).
void drop_path_row_scales(float* row_scale, int64_t rows, float p, uint64_t seed, uint64_t offset,
                          void* stream = nullptr);
// y[r][j] = x[r][j] * row_scale[r]
void row_scale_apply(const float* x, const float* row_scale, float* y, int64_t rows, int64_t row_len,
                     void* stream = nullptr);

}  // namespace mapet::cuda
