// im2col for the patch embedding (twins: ops::patchify / unpatchify).
//
// A block per strip of patches (sample b, patch row py), grid-strided: its
// threads walk the strip's C x p image rows with x fastest, so the image side
// is read (or written) in whole coalesced rows and the patch side in runs of
// p contiguous values. Four at a time (float4) when p and W are multiples of
// 4 and the pointers aligned: a group of four never straddles two patches.
#include "kernels/cuda/dialect.cuh"

#include "kernels/cuda/patch_embed.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

// kToCols: images -> cols (patchify), else cols -> images (unpatchify).
template <bool kToCols, bool kVec>
__global__ void __launch_bounds__(kThreads)
    im2col_kernel(const float* __restrict__ src, float* __restrict__ dst, int64_t B, int C, int H, int W, int p) {
  constexpr int kStep = kVec ? 4 : 1;
  const int gh = H / p, gw = W / p, strip = C * p * W;  // values in one strip
  for (int64_t s = blockIdx.x; s < B * gh; s += gridDim.x) {
    const int64_t b = s / gh;
    const int py = static_cast<int>(s - b * gh);
    for (int e = threadIdx.x * kStep; e < strip; e += kThreads * kStep) {
      const int x = e % W, row = e / W, ky = row % p, c = row / p, px = x / p, kx = x - px * p;
      const int64_t img = ((b * C + c) * H + py * p + ky) * static_cast<int64_t>(W) + x;
      const int64_t col = ((b * gh + py) * gw + px) * static_cast<int64_t>(C * p * p) + (c * p + ky) * p + kx;
      const int64_t from = kToCols ? img : col, to = kToCols ? col : img;
      if constexpr (kVec) *reinterpret_cast<float4*>(dst + to) = *reinterpret_cast<const float4*>(src + from);
      else dst[to] = src[from];
    }
  }
}

template <bool kToCols>
void launch(const float* src, float* dst, int64_t B, int64_t C, int64_t H, int64_t W, int64_t p, void* stream) {
  if (B == 0 || C == 0 || H == 0 || W == 0) return;
  const int64_t strips = B * (H / p);
  const unsigned grid = detail::grid_for(strips, 1);
  auto s = static_cast<cudaStream_t>(stream);
  const bool vec = p % 4 == 0 && W % 4 == 0 && detail::aligned16(src) && detail::aligned16(dst);
  const int c = static_cast<int>(C), h = static_cast<int>(H), w = static_cast<int>(W), pp = static_cast<int>(p);
  if (vec) MAPET_LAUNCH((im2col_kernel<kToCols, true>), grid, kThreads, 0, s, src, dst, B, c, h, w, pp);
  else MAPET_LAUNCH((im2col_kernel<kToCols, false>), grid, kThreads, 0, s, src, dst, B, c, h, w, pp);
}

}  // namespace

void patchify(const float* images, float* cols, int64_t B, int64_t C, int64_t H, int64_t W, int64_t p, void* stream) {
  launch<true>(images, cols, B, C, H, W, p, stream);
}

void unpatchify(const float* cols, float* images, int64_t B, int64_t C, int64_t H, int64_t W, int64_t p,
                void* stream) {
  launch<false>(cols, images, B, C, H, W, p, stream);
}

}  // namespace mapet::cuda
