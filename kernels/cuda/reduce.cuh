// Column sums and sums of squares on the GPU: the twins of
// kernels/cpu/reduce.h (device pointers; the stream last, null: the
// default stream). As on the CPU, results do not depend on how the work is
// split: every sum is taken in a fixed order (the same bits on every run).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace mapet::cuda {

// out[j] = sum_i x[i * cols + j]  (out overwritten)
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, void* stream = nullptr);
// sum_rows, also writing x rounded to bf16 (nearest even) into x16 in the same pass.
void sum_rows_to_bf16(const float* x, float* out, int64_t rows, int64_t cols, uint16_t* x16, void* stream = nullptr);
// Sum of x[i]^2 over several device arrays (pointer, length), in double; read
// back to the host (waits for the stream). The global gradient norm of clip_grad_norm.
double sum_squares(const std::vector<std::pair<const float*, int64_t>>& arrays, void* stream = nullptr);
// The mean over the middle dim of x [outer][n][inner], each sum in the CPU's
// order (bit for bit cpu::mean_dim), and its backward dx[o][k][j] = g[o][j] / n.
void mean_dim(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, void* stream = nullptr);
void mean_dim_backward(const float* g, float* dx, int64_t outer, int64_t n, int64_t inner, void* stream = nullptr);

// The index of the first largest value of each row (NaN counts as -inf): the
// same indices as cpu::argmax_rows. cols >= 1.
void argmax_rows(const float* x, int64_t* index, int64_t rows, int64_t cols, void* stream = nullptr);

}  // namespace mapet::cuda
