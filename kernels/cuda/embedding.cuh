// Embedding lookup on the GPU: rows of a table by index, and its backward,
// the scatter-add of row gradients into the table (twins: kernels/cpu/embedding.h,
// which are ops::index_select's and ops::gather_tokens's loops, engine/ops/shape.cpp).
// Device pointers; the stream last (null: the default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

// out[b][i][:] = table[b][index[b][i]][:] for `batches` tables of [rows][dim]
// and n indices each (batches = 1: an embedding lookup, ops::index_select;
// B: ops::gather_tokens). An index outside [0, rows) gives a row of NaNs (the
// host checks indices where it can; the kernel never reads outside the table).
void embedding_forward(const float* table, const int64_t* index, float* out, int64_t batches, int64_t n, int64_t rows,
                       int64_t dim, void* stream = nullptr);
// One table (batches = 1).
inline void embedding_forward(const float* table, const int64_t* index, float* out, int64_t n, int64_t rows,
                              int64_t dim, void* stream = nullptr) {
  embedding_forward(table, index, out, 1, n, rows, dim, stream);
}

// dtable[b][index[b][i]][:] += dout[b][i][:] for `batches` tables of [rows][dim]
// (batches = 1: an embedding's backward; B: ops::gather_tokens's), i in order
// within a table, so repeated indices add up in the CPU's order: bit for bit
// cpu::embedding_backward. Indices outside [0, rows) are skipped.
void embedding_backward(const float* dout, const int64_t* index, float* dtable, int64_t batches, int64_t n,
                        int64_t rows, int64_t dim, void* stream = nullptr);

}  // namespace mapet::cuda
