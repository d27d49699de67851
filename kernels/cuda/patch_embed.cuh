// Patch extraction for the patch embedding (im2col with kernel = stride = p)
// on the GPU: the twins of ops::patchify / unpatchify (engine/ops/patch_embed.cpp).
// The embedding itself is then one GEMM. Device pointers; the stream last.
#pragma once
#include <cstdint>

namespace mapet::cuda {

// images [B][C][H][W] (H, W multiples of p) -> cols [B][(H/p)*(W/p)][C*p*p],
// each row one patch in (c, ky, kx) order.
void patchify(const float* images, float* cols, int64_t B, int64_t C, int64_t H, int64_t W, int64_t p,
              void* stream = nullptr);
// The adjoint (the backward to the images): every pixel is in exactly one
// patch, so it is the inverse permutation, no sums.
void unpatchify(const float* cols, float* images, int64_t B, int64_t C, int64_t H, int64_t W, int64_t p,
                void* stream = nullptr);

}  // namespace mapet::cuda
