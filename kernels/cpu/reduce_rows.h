// Column sums over many rows, with a result that does not depend on the number
// of threads: rows are summed in fixed chunks and the chunk partials in order.
#pragma once
#include <cstdint>

namespace mapet::cpu {

constexpr int64_t kReduceChunkRows = 64;

// out[j] = sum_i x[i * cols + j]  (out overwritten)
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols);

// Calls partial(chunk_begin, chunk_end, acc) with acc zeroed (cols floats) for
// each fixed chunk of rows, in parallel, then sums the accumulators in chunk order into out.
template <class Partial>
void chunked_column_reduce(int64_t rows, int64_t cols, int n_outputs, float* const* outs, Partial partial);

}  // namespace mapet::cpu

#include "kernels/cpu/reduce_rows_impl.h"
