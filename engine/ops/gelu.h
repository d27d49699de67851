// GELU, alone or with the bias of the linear layer before it.
#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

Var gelu(const Var& x);                       // exact (erf) GELU
// gelu(x + bias), bias [C] over the last dimension: fc1's bias and the GELU
// after it in one op (the bias gradient comes out of the GELU backward's pass).
Var bias_gelu(const Var& x, const Var& bias);

}  // namespace mapet::ops
