// Element-wise kernels. "Broadcast" forms repeat b (n_b values) over a, whose
// size is a multiple of n_b (b is a trailing-shape tensor: a bias, pos_embed, a gamma).
#pragma once
#include "kernels/cpu/isa.h"
#include <cstdint>

namespace mapet::cpu {

MAPET_ISA_FUNCTION(void, add, (const float* a, const float* b, float* y, int64_t n),
                   (a, b, y, n))          // y = a + b
MAPET_ISA_FUNCTION(void, add_inplace, (float* a, const float* b, int64_t n),
                   (a, b, n))                   // a += b
// a[r * a_stride + i] += b[r * run + i] for r < runs, i < run: b into a strided region of a.
MAPET_ISA_FUNCTION(void, add_inplace_runs, (float* a, const float* b, int64_t runs, int64_t run, int64_t a_stride),
                   (a, b, runs, run, a_stride))
MAPET_ISA_FUNCTION(void, axpy, (float alpha, const float* x, float* y, int64_t n),
                   (alpha, x, y, n))             // y += alpha x
MAPET_ISA_FUNCTION(void, mul, (const float* a, const float* b, float* y, int64_t n),
                   (a, b, y, n))          // y = a * b
MAPET_ISA_FUNCTION(void, scale, (const float* x, float alpha, float* y, int64_t n),
                   (x, alpha, y, n))           // y = alpha x
MAPET_ISA_FUNCTION(void, add_broadcast, (const float* a, const float* b, float* y, int64_t n, int64_t n_b),
                   (a, b, y, n, n_b))
MAPET_ISA_FUNCTION(void, mul_broadcast, (const float* a, const float* b, float* y, int64_t n, int64_t n_b),
                   (a, b, y, n, n_b))
// db[j] = sum over repeats of (dy * a)[r * n_b + j], thread-count independent.
MAPET_ISA_FUNCTION(void, mul_broadcast_grad_b, (const float* dy, const float* a, float* db, int64_t n, int64_t n_b),
                   (dy, a, db, n, n_b))

}  // namespace mapet::cpu
