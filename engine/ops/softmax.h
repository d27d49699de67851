// Row softmax over the last dimension.
#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

Var softmax(const Var& x, float scale = 1.0f);  // softmax(scale * x) over the last dimension

}  // namespace mapet::ops
