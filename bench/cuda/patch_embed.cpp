// cuda::patchify / unpatchify (kernels/cuda/patch_embed.cu): the patch embedding's im2col of
// the batch of images and its adjoint, against the plain loops (the CPU twins in the engine,
// ops::patchify / unpatchify, compute the same permutation).
#include "kernels/cuda/patch_embed.cuh"

#include "bench/cuda/bench.h"

using namespace mapet;
using namespace mapet::cuda_bench;

MAPET_CUDA_BENCH(patch_embed) {
  const int64_t B = b.shape().B, C = 3, H = b.shape().image, W = H, p = b.shape().patch, n = B * C * H * W;
  const int64_t gw = W / p, per_patch = C * p * p;
  const std::vector<float> images = b.randn(n), grads = b.randn(n);
  // cols[b][py * gw + px][(c * p + ky) * p + kx] = images[b][c][py * p + ky][px * p + kx]
  std::vector<float> cols(n), back(n);
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t img = ((bi * C + c) * H + y) * W + x;
          const int64_t col = (bi * (H / p) * gw + (y / p) * gw + x / p) * per_patch + (c * p + y % p) * p + x % p;
          cols[col] = images[img];
          back[img] = grads[col];
        }

  twin::Case cs;
  const float *d_img = cs.input(images), *d_grads = cs.input(grads);
  float *d_cols = cs.output<float>(n), *d_back = cs.output<float>(n);
  auto fwd = [&] { cuda::patchify(d_img, d_cols, B, C, H, W, p); };
  auto bwd = [&] { cuda::unpatchify(d_grads, d_back, B, C, H, W, p); };
  b.validate(cs, [&] { fwd(); bwd(); });
  b.expect_close(cs.read(d_cols), cols, {}, "patchify (bit for bit)");
  b.expect_close(cs.read(d_back), back, {}, "unpatchify (bit for bit)");
  b.time("patchify", fwd, {.bytes = 8.0 * n});  // every pixel read once, written once
  b.time("unpatchify", bwd, {.bytes = 8.0 * n});
}
