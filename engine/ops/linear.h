// Linear layer and (batched) matrix products, all through kernels/cpu/gemm.h.
#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// y[..., out] = x[..., in] W[out, in]^T + b[out]   (b may be undefined)
Var linear(const Var& x, const Var& weight, const Var& bias);

// Batched matmul over leading dims: a [..., m, k] x b [..., k, n] -> [..., m, n]
// (the leading dims must match; b may also be plain 2-D and shared).
Var matmul(const Var& a, const Var& b);

}  // namespace mapet::ops
