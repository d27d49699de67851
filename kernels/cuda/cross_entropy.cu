// Softmax cross-entropy with label smoothing and ignore_index (twins:
// kernels/cpu/cross_entropy.cpp), for the pre-training head's 8192 classes.
//
// One block per row (grid-strided). Forward: the row max, then the sum of
// common::fast_exp(x - max) (and of x, for smoothing) as on the CPU, each a
// thread-strided partial and a fixed-order block reduction; the second pass
// re-reads the row (32 KiB at 8192 classes) from L1/L2. float4 where the rows
// are 16-byte aligned. A small one-block kernel counts the rows that count and
// finds the first bad label; the host reads those two numbers back (the CPU
// API returns the count) and throws on a bad label. The row kernel never reads
// logits[label] for a bad label (its loss is NaN), so nothing reads out of bounds.
#include "kernels/cuda/dialect.cuh"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/math.h"
#include "kernels/cuda/cross_entropy.cuh"
#include "kernels/cuda/support.cuh"

namespace mapet::cuda {

namespace {

constexpr int kThreads = 256;

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a > b ? a : b; }
};
struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MinOp {
  __device__ __forceinline__ int64_t operator()(int64_t a, int64_t b) const { return a < b ? a : b; }
};

// (kThreads, 4): up to 64 registers. With the block size alone ptxas kept this
// kernel at 32 and spilled the unrolled float4 exp sums.
template <bool kVec>
__global__ void __launch_bounds__(kThreads, 4)
    cross_entropy_forward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ labels,
                                 float* __restrict__ row_loss, float* __restrict__ lse, int64_t rows, int64_t classes,
                                 float smoothing, int64_t ignore_index) {
  __shared__ float red[kThreads / detail::kWarp];
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const float* xr = logits + i * classes;
    const float4* xv = reinterpret_cast<const float4*>(xr);
    const int64_t nv = kVec ? classes / 4 : 0;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < nv; j += kThreads) {
      const float4 v = xv[j];
      m = fmaxf(m, fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w)));
    }
    for (int64_t j = nv * 4 + threadIdx.x; j < classes; j += kThreads) m = fmaxf(m, xr[j]);
    m = detail::block_reduce<kThreads>(m, red, MaxOp{});

    float s = 0.0f, sx = 0.0f;
    if (m != -INFINITY) {  // uniform across the block
      for (int64_t j = threadIdx.x; j < nv; j += kThreads) {
        const float4 v = xv[j];
        s += (common::fast_exp(v.x - m) + common::fast_exp(v.y - m)) +
             (common::fast_exp(v.z - m) + common::fast_exp(v.w - m));
        sx += (v.x + v.y) + (v.z + v.w);
      }
      for (int64_t j = nv * 4 + threadIdx.x; j < classes; j += kThreads) {
        s += common::fast_exp(xr[j] - m);
        sx += xr[j];
      }
    }
    s = detail::block_reduce<kThreads>(s, red, SumOp{});
    if (smoothing > 0.0f) sx = detail::block_reduce<kThreads>(sx, red, SumOp{});

    if (threadIdx.x == 0) {
      const float l = m == -INFINITY ? m : m + logf(s);
      lse[i] = l;
      const int64_t y = labels[i];
      float loss = 0.0f;
      if (y != ignore_index) {
        if (y < 0 || y >= classes) {
          loss = NAN;  // the host throws; never read outside the row
        } else {
          const float nll = l - xr[y];
          loss = nll;
          if (smoothing > 0.0f) {
            const float mean_nll = l - sx / static_cast<float>(classes);
            loss = (1.0f - smoothing) * nll + smoothing * mean_nll;
          }
        }
      }
      row_loss[i] = loss;
    }
  }
}

// stats[0] = rows that count, stats[1] = first row with a bad label (rows if none), stats[2] = its label.
__global__ void __launch_bounds__(kThreads)
    count_rows_kernel(const int64_t* __restrict__ labels, int64_t rows, int64_t classes, int64_t ignore_index,
                      int64_t* __restrict__ stats) {
  __shared__ int64_t red[kThreads / detail::kWarp];
  int64_t counted = 0, bad = rows;
  for (int64_t i = threadIdx.x; i < rows; i += kThreads) {
    const int64_t y = labels[i];
    if (y == ignore_index) continue;
    if (y < 0 || y >= classes) bad = bad < i ? bad : i;
    else ++counted;
  }
  counted = detail::block_reduce<kThreads>(counted, red, SumOp{});
  bad = detail::block_reduce<kThreads>(bad, red, MinOp{});
  if (threadIdx.x == 0) {
    stats[0] = counted;
    stats[1] = bad;
    stats[2] = bad < rows ? labels[bad] : 0;
  }
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_backward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ labels,
                                  const float* __restrict__ lse, float* __restrict__ dlogits, int64_t rows,
                                  int64_t classes, float smoothing, int64_t ignore_index, float grad_scale) {
  const float off = smoothing / static_cast<float>(classes);
  const float hit = grad_scale * (1.0f - smoothing);
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const float* xr = logits + i * classes;
    float* dr = dlogits + i * classes;
    const int64_t y = labels[i];
    const bool ignored = y == ignore_index;
    const float l = lse[i];
    // As the CPU: d = grad_scale * (p - off), then d - grad_scale * (1 - smoothing) at the label.
    auto grad = [&](float x, int64_t j) {
      if (ignored) return 0.0f;
      const float d = grad_scale * (common::fast_exp(x - l) - off);
      return j == y ? d - hit : d;
    };
    const int64_t nv = kVec ? classes / 4 : 0;
    for (int64_t j = threadIdx.x; j < nv; j += kThreads) {
      const float4 v = reinterpret_cast<const float4*>(xr)[j];
      reinterpret_cast<float4*>(dr)[j] =
          float4{grad(v.x, 4 * j), grad(v.y, 4 * j + 1), grad(v.z, 4 * j + 2), grad(v.w, 4 * j + 3)};
    }
    for (int64_t j = nv * 4 + threadIdx.x; j < classes; j += kThreads) dr[j] = grad(xr[j], j);
  }
}

bool vec_ok(int64_t classes, const void* a, const void* b) {
  return classes % 4 == 0 && detail::aligned16(a) && detail::aligned16(b);
}

}  // namespace

int64_t cross_entropy_forward(const float* logits, const int64_t* labels, float* row_loss, float* lse, int64_t rows,
                              int64_t classes, float smoothing, int64_t ignore_index, void* stream) {
  if (rows == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  detail::Scratch<int64_t> stats(3, stream);
  MAPET_LAUNCH(count_rows_kernel, 1u, kThreads, 0, s, labels, rows, classes, ignore_index, stats.get());
  const unsigned grid = detail::grid_for(rows, 1);
  if (vec_ok(classes, logits, nullptr))
    MAPET_LAUNCH(cross_entropy_forward_kernel<true>, grid, kThreads, 0, s, logits, labels, row_loss, lse, rows, classes,
                 smoothing, ignore_index);
  else
    MAPET_LAUNCH(cross_entropy_forward_kernel<false>, grid, kThreads, 0, s, logits, labels, row_loss, lse, rows,
                 classes, smoothing, ignore_index);
  int64_t host[3];
  detail::copy_to_host(host, stats.get(), 3, stream);
  if (host[1] < rows)
    throw std::out_of_range("cross_entropy: label " + std::to_string(host[2]) + " at row " + std::to_string(host[1]) +
                            " is outside [0, " + std::to_string(classes) + ")");
  return host[0];
}

void cross_entropy_backward(const float* logits, const int64_t* labels, const float* lse, float* dlogits,
                            int64_t rows, int64_t classes, float smoothing, int64_t ignore_index, float grad_scale,
                            void* stream) {
  if (rows == 0 || classes == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = detail::grid_for(rows, 1);
  if (vec_ok(classes, logits, dlogits))
    MAPET_LAUNCH(cross_entropy_backward_kernel<true>, grid, kThreads, 0, s, logits, labels, lse, dlogits, rows,
                 classes, smoothing, ignore_index, grad_scale);
  else
    MAPET_LAUNCH(cross_entropy_backward_kernel<false>, grid, kThreads, 0, s, logits, labels, lse, dlogits, rows,
                 classes, smoothing, ignore_index, grad_scale);
}

}  // namespace mapet::cuda
