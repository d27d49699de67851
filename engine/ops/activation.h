// GELU and softmax.
#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

Var gelu(const Var& x);                       // exact (erf) GELU
Var softmax(const Var& x, float scale = 1.0f);  // softmax(scale * x) over the last dimension

}  // namespace mapet::ops
