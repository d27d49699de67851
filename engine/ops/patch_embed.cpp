#include "engine/ops/patch_embed.h"

#include <cstring>

#include "engine/backend.h"
#include "engine/ops/linear.h"
#include "kernels/cuda/patch_embed.cuh"

namespace mapet::ops {

namespace {
void check_image(const Tensor& img, int64_t p) {
  if (img.dim() != 4 || img.size(2) % p != 0 || img.size(3) % p != 0)
    throw Error("patch_embed: images must be [B, C, H, W] with H and W multiples of " + std::to_string(p) + ", got " +
                img.str());
}
}  // namespace

Tensor patchify(const Tensor& images, int64_t p) {
  check_image(images, p);
  Tensor x = images.contiguous();
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), gh = H / p, gw = W / p;
  Tensor out = Tensor::empty({B, gh * gw, C * p * p}, DType::f32, x.device());
  if (x.device() == Device::cuda) {  // on the CPU a loop of row copies (below), no kernel of its own
    backend::cuda_call("patchify", [&] { cuda::patchify(x.data<float>(), out.data<float>(), B, C, H, W, p); });
    return out;
  }
  const float* src = x.data<float>();
  float* dst = out.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t py = 0; py < gh; ++py)
      for (int64_t px = 0; px < gw; ++px) {
        float* row = dst + ((b * gh + py) * gw + px) * C * p * p;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t ky = 0; ky < p; ++ky)
            std::memcpy(row + (c * p + ky) * p, src + ((b * C + c) * H + py * p + ky) * W + px * p,
                        static_cast<size_t>(p) * 4);
      }
  return out;
}

Tensor unpatchify(const Tensor& patches, const Shape& s, int64_t p) {
  const int64_t B = s[0], C = s[1], H = s[2], W = s[3], gh = H / p, gw = W / p;
  Tensor pc = patches.contiguous();
  Tensor out = Tensor::empty(s, DType::f32, pc.device());
  if (pc.device() == Device::cuda) {
    backend::cuda_call("unpatchify", [&] { cuda::unpatchify(pc.data<float>(), out.data<float>(), B, C, H, W, p); });
    return out;
  }
  const float* src = pc.data<float>();
  float* dst = out.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t py = 0; py < gh; ++py)
      for (int64_t px = 0; px < gw; ++px) {
        const float* row = src + ((b * gh + py) * gw + px) * C * p * p;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t ky = 0; ky < p; ++ky)
            std::memcpy(dst + ((b * C + c) * H + py * p + ky) * W + px * p, row + (c * p + ky) * p,
                        static_cast<size_t>(p) * 4);
      }
  return out;
}

Var patch_embed(const Var& images, const Var& weight, const Var& bias, int64_t p) {
  check_image(images.value(), p);
  const int64_t D = weight.size(0), C = images.size(1);
  if (weight.dim() != 4 || weight.size(1) != C || weight.size(2) != p || weight.size(3) != p)
    throw Error("patch_embed: weight " + weight.value().str() + " does not fit images " + images.value().str() +
                " with patch " + std::to_string(p));
  // Patch extraction as its own autograd step, then the shared linear op.
  Tensor cols = patchify(images.value(), p);
  Var cols_var = autograd::make_output(cols, {&images});
  Shape img_shape = images.shape();
  autograd::record(cols_var, [images, img_shape, p](const Tensor& g) {
    autograd::accumulate(images, unpatchify(g, img_shape, p));
  });
  Var w2 = autograd::make_output(weight.value().contiguous().view({D, C * p * p}), {&weight});
  autograd::record(w2, [weight](const Tensor& g) { autograd::accumulate(weight, g.contiguous().view(weight.shape())); });
  return linear(cols_var, w2, bias);
}

}  // namespace mapet::ops
