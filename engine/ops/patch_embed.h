#pragma once
#include "engine/autograd.h"

namespace mapet::ops {

// Conv2d with kernel = stride = patch, as one GEMM: images [B, C, H, W] ->
// tokens [B, (H/p)*(W/p), D], weight [D, C, p, p] (timm's patch_embed.proj), bias [D].
Var patch_embed(const Var& images, const Var& weight, const Var& bias, int64_t patch);

// [B, C, H, W] -> [B, P, C*p*p], each row a patch in (c, ky, kx) order (no autograd).
Tensor patchify(const Tensor& images, int64_t patch);
// The adjoint of patchify: scatters rows back into an image-shaped tensor.
Tensor unpatchify(const Tensor& patches, const Shape& image_shape, int64_t patch);

}  // namespace mapet::ops
