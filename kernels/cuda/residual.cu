// The residual step of a pre-norm block, out = x + s[r] * (gamma * y) (twins:
// kernels/cpu/residual.cpp; the same expression per element, so the values
// differ at most by FMA contraction).
//
// A "line" is one token's dim channels. Forward, and backward without
// dgamma: a warp per line (grid-strided), lanes across the channels, float4
// where aligned — no division per element for the channel or the sample.
// Backward with dgamma: a thread per channel walks a chunk of 64 lines,
// writing dy and summing s * dout * y (a dropped sample adds nothing, as on
// the CPU); the chunk sums are added in a fixed order (support.cuh).
#include "kernels/cuda/dialect.cuh"

#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

using detail::kWarp;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarp;

// out = x + s * (g * y) per channel; x null: the backward's dy = s * (g * dout) (y is dout).
template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    residual_lines_kernel(const float* __restrict__ x, const float* __restrict__ y, const float* __restrict__ gamma,
                          const float* __restrict__ row_scale, float* __restrict__ out, int64_t lines, int64_t tokens,
                          int dim) {
  const int lane = threadIdx.x % kWarp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarp; i < lines; i += stride) {
    const float s = row_scale ? row_scale[i / tokens] : 1.0f;
    const float* yi = y + i * dim;
    float* oi = out + i * dim;
    auto term = [&](float yv, float g) { return gamma ? s * (g * yv) : s * yv; };
    if constexpr (kVec) {
      for (int c = lane; c < dim / 4; c += kWarp) {
        const float4 yv = reinterpret_cast<const float4*>(yi)[c];
        const float4 g = gamma ? reinterpret_cast<const float4*>(gamma)[c] : float4{1.0f, 1.0f, 1.0f, 1.0f};
        float4 o{term(yv.x, g.x), term(yv.y, g.y), term(yv.z, g.z), term(yv.w, g.w)};
        if (x) {
          const float4 xv = reinterpret_cast<const float4*>(x + i * dim)[c];
          o = float4{xv.x + o.x, xv.y + o.y, xv.z + o.z, xv.w + o.w};
        }
        reinterpret_cast<float4*>(oi)[c] = o;
      }
    } else {
      for (int c = lane; c < dim; c += kWarp) {
        const float t = term(yi[c], gamma ? gamma[c] : 1.0f);
        oi[c] = x ? x[i * dim + c] + t : t;
      }
    }
  }
}

// Chunk k of 64 lines (grid-strided over y), channel c: dy for those lines,
// and partial[k][c] = sum of s * (dout * y) over them in line order.
__global__ void __launch_bounds__(detail::kColumnThreads)
    residual_backward_dgamma_kernel(const float* __restrict__ dout, const float* __restrict__ y,
                                    const float* __restrict__ gamma, const float* __restrict__ row_scale,
                                    float* __restrict__ dy, float* __restrict__ partial, int64_t lines,
                                    int64_t tokens, int64_t dim, int64_t chunks) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * detail::kColumnThreads + threadIdx.x;
  if (c >= dim) return;  // no barriers here
  const float g = gamma ? gamma[c] : 1.0f;
  for (int64_t k = blockIdx.y; k < chunks; k += gridDim.y) {
    const int64_t i0 = k * detail::kChunkRows, i1 = lines < i0 + detail::kChunkRows ? lines : i0 + detail::kChunkRows;
    float acc = 0.0f;
    int64_t r = i0 / tokens, t = i0 - r * tokens;  // the sample of line i, stepped along (no division per line)
    for (int64_t i = i0; i < i1; ++i, t = t + 1 == tokens ? (++r, 0) : t + 1) {
      const float s = row_scale ? row_scale[r] : 1.0f;
      const float d = dout[i * dim + c];
      dy[i * dim + c] = gamma ? s * (g * d) : s * d;
      if (s != 0.0f) acc += s * (d * y[i * dim + c]);
    }
    partial[k * dim + c] = acc;
  }
}

void launch_lines(const float* x, const float* y, const float* gamma, const float* row_scale, float* out,
                  int64_t lines, int64_t tokens, int64_t dim, void* stream) {
  const bool vec = dim % 4 == 0 && detail::aligned16(x) && detail::aligned16(y) && detail::aligned16(gamma) &&
                   detail::aligned16(out);
  const unsigned grid = detail::grid_for(lines, kWarps);
  auto s = static_cast<cudaStream_t>(stream);
  const int d = static_cast<int>(dim);
  if (vec) MAPET_LAUNCH(residual_lines_kernel<true>, grid, kThreads, 0, s, x, y, gamma, row_scale, out, lines, tokens, d);
  else MAPET_LAUNCH(residual_lines_kernel<false>, grid, kThreads, 0, s, x, y, gamma, row_scale, out, lines, tokens, d);
}

}  // namespace

void scaled_residual_forward(const float* x, const float* y, const float* gamma, const float* row_scale, float* out,
                             int64_t rows, int64_t row_len, int64_t dim, void* stream) {
  const int64_t tokens = row_len / dim, lines = rows * tokens;
  if (lines == 0) return;
  launch_lines(x, y, gamma, row_scale, out, lines, tokens, dim, stream);
}

void scaled_residual_backward(const float* dout, const float* y, const float* gamma, const float* row_scale,
                              float* dy, float* dgamma, int64_t rows, int64_t row_len, int64_t dim, void* stream) {
  const int64_t tokens = dim ? row_len / dim : 0, lines = rows * tokens;
  if (!dgamma) {
    if (lines > 0) launch_lines(nullptr, dout, gamma, row_scale, dy, lines, tokens, dim, stream);
    return;
  }
  if (dim == 0) return;
  const int64_t chunks = detail::chunks_for(lines);  // no lines: one empty chunk, dgamma = 0 as on the CPU
  detail::Scratch<float> partial(static_cast<size_t>(chunks * dim), stream);
  MAPET_LAUNCH(residual_backward_dgamma_kernel, detail::column_grid(dim, chunks), detail::kColumnThreads, 0,
               static_cast<cudaStream_t>(stream), dout, y, gamma, row_scale, dy, partial.get(), lines,
               tokens > 0 ? tokens : 1, dim, chunks);
  detail::sum_chunks(partial.get(), detail::ColumnOutputs{{dgamma, nullptr}}, 1, chunks, dim, stream);
}

}  // namespace mapet::cuda
