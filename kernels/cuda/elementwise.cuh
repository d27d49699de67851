// Element-wise kernels on the GPU: the twins of kernels/cpu/elementwise.h
// (device pointers; the stream last, null: the default stream).
#pragma once
#include <cstdint>

namespace mapet::cuda {

void add(const float* a, const float* b, float* y, int64_t n, void* stream = nullptr);
void add_inplace(float* a, const float* b, int64_t n, void* stream = nullptr);
void add_inplace_runs(float* a, const float* b, int64_t runs, int64_t run, int64_t a_stride, void* stream = nullptr);
void mul(const float* a, const float* b, float* y, int64_t n, void* stream = nullptr);
void scale(const float* x, float alpha, float* y, int64_t n, void* stream = nullptr);
void add_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b, void* stream = nullptr);
void mul_broadcast(const float* a, const float* b, float* y, int64_t n, int64_t n_b, void* stream = nullptr);
void mul_broadcast_grad_b(const float* dy, const float* a, float* db, int64_t n, int64_t n_b, void* stream = nullptr);

}  // namespace mapet::cuda
