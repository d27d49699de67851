// Embedding lookup on the GPU: rows of a table by index (the twin of
// ops::index_select(table, 0, index), engine/ops/shape.cpp). Device pointers;
// the stream last (null: the default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

// out[i][:] = table[index[i]][:] for i < n; table is [rows][dim]. An index
// outside [0, rows) gives a row of NaNs (the host checks indices where it can;
// the kernel never reads outside the table).
void embedding_forward(const float* table, const int64_t* index, float* out, int64_t n, int64_t rows, int64_t dim,
                       void* stream = nullptr);

}  // namespace mapet::cuda
