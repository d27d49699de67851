// The sample kernel's host entry point (tests/simt/sample_kernel.cu). Pointers
// are device pointers: host memory under simt.
#pragma once

namespace mapet::simt_sample {

// y[r] = sum of row r of x (rows x cols, row-major). Throws std::runtime_error
// (mapet::simt::KernelError under simt) if the launch fails.
void row_sums(const float* x, float* y, int rows, int cols, void* stream = nullptr);

}  // namespace mapet::simt_sample
