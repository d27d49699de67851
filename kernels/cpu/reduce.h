// Column sums over many rows, with a result that does not depend on the number
// of threads: rows are summed in fixed chunks and the chunk partials in order.
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>
#include <utility>
#include <vector>

namespace mapet::cpu {

constexpr int64_t kReduceChunkRows = 64;

// out[j] = sum_i x[i * cols + j]  (out overwritten)
MAPET_ISA_FUNCTION(void, sum_rows, (const float* x, float* out, int64_t rows, int64_t cols), (x, out, rows, cols))

// sum_rows (the same sums), also writing x rounded to bf16 into x16 (same
// layout): a linear layer's bias gradient and the bf16 form of its output
// gradient for the --amp GEMMs, in one pass over x.
MAPET_ISA_FUNCTION(void, sum_rows_to_bf16, (const float* x, float* out, int64_t rows, int64_t cols, uint16_t* x16),
                   (x, out, rows, cols, x16))

// Sum of x[i]^2 over several arrays (pointer, length), in double. Each array
// is cut into fixed blocks (parallel.h's kElementBlock), every block summed in
// 16 lanes, and the block sums added in order: the result does not depend on
// the number of threads (the global gradient norm of clip_grad_norm).
MAPET_ISA_FUNCTION(double, sum_squares, (const std::vector<std::pair<const float*, int64_t>>& arrays), (arrays))

// The mean over the middle dim of x [outer][n][inner] (ops::mean; the ViT's
// average pool over tokens): y[o][j] = (sum over k in order of x[o][k][j]) * (1/n).
// Its backward: dx[o][k][j] = g[o][j] * (1/n).
MAPET_ISA_FUNCTION(void, mean_dim, (const float* x, float* y, int64_t outer, int64_t n, int64_t inner),
                   (x, y, outer, n, inner))
MAPET_ISA_FUNCTION(void, mean_dim_backward, (const float* g, float* dx, int64_t outer, int64_t n, int64_t inner),
                   (g, dx, outer, n, inner))

// The index of the first largest value of each row of x [rows][cols] (NaN
// counts as -inf; common::argmax_key): top-1 predictions, e.g. the token
// accuracy of MaPeT's decoder. cols >= 1.
MAPET_ISA_FUNCTION(void, argmax_rows, (const float* x, int64_t* index, int64_t rows, int64_t cols),
                   (x, index, rows, cols))

// Calls partial(chunk_begin, chunk_end, acc) with acc zeroed (cols floats) for
// each fixed chunk of rows, in parallel, then sums the accumulators in chunk order into out.
template <class Partial>
void chunked_column_reduce(int64_t rows, int64_t cols, int n_outputs, float* const* outs, Partial partial);

}  // namespace mapet::cpu

#include "kernels/cpu/reduce_impl.h"
