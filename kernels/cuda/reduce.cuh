// Column sums and sums of squares on the GPU: the twins of kernels/cpu/reduce.h
// (device pointers; the stream last, null: the default stream). As on the
// CPU, results must not depend on how the work is split.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace mapet::cuda {

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, void* stream = nullptr);
void sum_rows_to_bf16(const float* x, float* out, int64_t rows, int64_t cols, uint16_t* x16, void* stream = nullptr);
double sum_squares(const std::vector<std::pair<const float*, int64_t>>& arrays, void* stream = nullptr);

}  // namespace mapet::cuda
