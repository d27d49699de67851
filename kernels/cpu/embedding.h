// Rows of a table by index, and the scatter-add of their gradients back into
// the table: the CPU twins of kernels/cuda/embedding.cuh. One call
// covers `batches` independent tables (table b at table + b * rows * dim,
// indices b at index + b * n): batches = 1 is an embedding lookup's backward,
// batches = B the backward of ops::gather_tokens (tokens of each sample).
#pragma once
#include <cstdint>

namespace mapet::cpu {

// out[b][i][:] = table[b][index[b][i]][:]; an index outside [0, rows) gives a
// row of NaNs (the ops check indices before they get here).
void embedding_forward(const float* table, const int64_t* index, float* out, int64_t batches, int64_t n, int64_t rows,
                       int64_t dim);

// dtable[b][index[b][i]][:] += dout[b][i][:] for i = 0, 1, ... in order, so
// repeated indices add up in a fixed order (the bits of ops::gather_tokens's
// and ops::index_select's backward). Indices outside [0, rows) are skipped.
void embedding_backward(const float* dout, const int64_t* index, float* dtable, int64_t batches, int64_t n,
                        int64_t rows, int64_t dim);

}  // namespace mapet::cpu
