// GELU (erf form) on the GPU: the twins of kernels/cpu/gelu.h, with the same
// arguments (device pointers) and the stream to launch on (null: the default
// stream) last. The math is kernels/common/math.h, as on the CPU. A failed
// launch throws std::runtime_error.
#pragma once
#include <cstdint>

namespace mapet::cuda {

void gelu_forward(const float* x, float* y, int64_t n, void* stream = nullptr);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, void* stream = nullptr);  // dx = dy * gelu'(x)
// y = gelu(x + b), b broadcast over the rows of x ([rows][cols]).
void bias_gelu_forward(const float* x, const float* b, float* y, int64_t rows, int64_t cols, void* stream = nullptr);
// dx = dy * gelu'(x + b); db = column sums of dx in a fixed order (the same bits on every run).
void bias_gelu_backward(const float* x, const float* b, const float* dy, float* dx, float* db, int64_t rows,
                        int64_t cols, void* stream = nullptr);

}  // namespace mapet::cuda
