#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// LayerNorm over the last dimension (timm ViT uses eps = 1e-6).
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps = 1e-6f);

}  // namespace mapet::ops
