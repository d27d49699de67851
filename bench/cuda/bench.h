// bench/cuda: every CUDA kernel (kernels/cuda) at a MaPeT-Small shape, in
// llm.c's manner: fresh random inputs, the result checked against the CPU twin
// (kernels/cpu), then, on a GPU, timed with CUDA events and set against the
// device's peak. Under kernels/simt (no GPU) it validates only, at a small
// shape, and says that no GPU timing was taken.
//
// One registration file per kernel, named after its .cu (bench/cuda/<op>.cpp
// for kernels/cuda/<op>.cu; CMake builds it only where the .cu exists):
//
//   MAPET_CUDA_BENCH(gelu) {
//     const int64_t n = b.shape().rows() * b.shape().hidden;
//     std::vector<float> x = b.randn(n), want(n);
//     cpu::gelu_forward(x.data(), want.data(), n);               // the CPU twin
//     twin::Case c;                                               // device buffers (tests/kernels/twin.h)
//     const float* dx = c.input(x);
//     float* dy = c.output<float>(n);
//     auto fwd = [&] { cuda::gelu_forward(dx, dy, n); };
//     b.validate(c, fwd);                                         // simt: every thread order
//     b.expect_close(c.read(dy), want, {1e-6, 1e-6}, "y");
//     b.time("gelu_forward", fwd, Count{.bytes = 8.0 * n});       // GPU only
//   }
//
// The same sources build twice: against mapet_kernels_simt (cuda_bench_simt)
// and, with MAPET_TWIN_GPU, against the nvcc-built mapet_kernels_cuda (cuda_bench).
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/kernels/twin.h"

namespace mapet::cuda_bench {

namespace twin = test::twin;

// The MaPeT-Small/16 pre-training step (ViT-S/16 at 224 px, objective mapet),
// or a small stand-in for it under simt. The sequence in permutation order has
// S = T + 2M rows per sample (content real | content mask | query).
struct Shape {
  const char* name;
  int64_t B, image, patch;
  int64_t T, L;          // tokens (CLS + patches) and context tokens (CLS included)
  int64_t D, heads, hidden;
  int64_t classes;       // visual tokens: the decoder's output and cross-entropy width
  int64_t centroids, feature_dim;  // the tokenizer's k-means codebook (CLIP ViT-B/16 features)
  int64_t depth;         // blocks (AdamW and the gradient norm take all the parameters)

  int64_t P() const { return T - 1; }
  int64_t M() const { return T - L; }
  int64_t S() const { return T + 2 * M(); }
  int64_t rows() const { return B * S(); }  // rows of every per-token op (layernorm, MLP, residual)
  int64_t head_dim() const { return D / heads; }
};
// B=64 ViT-S/16: T=197, L=50, D=384, heads 6, hidden 1536, 8192 classes; assignment K=8192, d=768.
Shape mapet_small();
// The same widths on 2 images of 64 px (T=17, L=5), a 2048-centroid codebook and 2 blocks:
// seconds under simt, where the full shape would take tens of minutes (simt costs ~2.6 us a warp mma).
Shape simt_small();

// What a timed call does, counted from the shape (each registration says its formula).
struct Count {
  double flops = 0;        // useful floating-point operations (2 per multiply-add)
  double bytes = 0;        // bytes read and written in global memory, at least once each
  bool tensor_cores = false;  // flops on bf16 tensor cores (else f32 FMA units)
};

class Bench {
 public:
  Bench(const Shape& shape, bool gpu, int iters, uint64_t seed);
  const Shape& shape() const { return shape_; }
  bool gpu() const { return gpu_; }

  // Fresh random inputs (a new seed for every call).
  std::vector<float> randn(size_t n, float sd = 1.0f, float mean = 0.0f);
  std::vector<float> uniform(size_t n, float lo, float hi);
  uint64_t seed() { return rng_(); }

  // Runs the CUDA call on the case's buffers once (under simt: in forward,
  // reverse and random thread order, bit for bit equal, see twin.h).
  void validate(twin::Case& c, const std::function<void()>& launch);
  // Compares with the CPU twin (twin::close's rule) and prints the worst error.
  template <class T>
  void expect_close(const std::vector<T>& got, const std::vector<T>& want, twin::Tolerance tol,
                    const std::string& what);
  // |got - want| <= rel * max |want| (attention: a gradient row can be all cancellation).
  void expect_close_to_max(const std::vector<float>& got, const std::vector<float>& want, double rel,
                           const std::string& what);
  void expect(bool ok, const std::string& what);

  // On a GPU: warm-up, then the median of `iters` launches between CUDA events,
  // printed with TFLOP/s or GB/s and the fraction of the device's peak.
  // Under simt: prints what would be timed.
  void time(const std::string& what, const std::function<void()>& launch, Count count);

  int failures() const { return failures_; }

 private:
  // worst_of_max: the worst error over the largest |value| of the twin's result.
  void report(bool ok, const std::string& what, double worst_abs, double worst_of_max, const std::string& detail);
  Shape shape_;
  bool gpu_;
  int iters_;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

// Registration: MAPET_CUDA_BENCH(name) { ... uses Bench& b ... }.
using BenchFn = void (*)(Bench&);
struct Registration {
  Registration(const char* name, BenchFn fn);
};
struct Entry {
  std::string name;
  BenchFn fn;
};
std::vector<Entry>& registry();

template <class T>
void Bench::expect_close(const std::vector<T>& got, const std::vector<T>& want, twin::Tolerance tol,
                         const std::string& what) {
  const ::testing::AssertionResult r = twin::close(got, want, tol, what);
  double worst = 0, scale = 0;  // the worst error, and the largest value it is set against
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (g != g && w != w) continue;  // NaN where the twin has NaN
    const double e = g > w ? g - w : w - g;
    if (!(e <= worst)) worst = e;
    if (w - w == 0 && (w < 0 ? -w : w) > scale) scale = w < 0 ? -w : w;  // finite values only
  }
  report(static_cast<bool>(r), what, worst, scale > 0 ? worst / scale : 0, r ? "" : r.message());
}

}  // namespace mapet::cuda_bench

#define MAPET_CUDA_BENCH(op)                                                                  \
  static void op##_cuda_bench(::mapet::cuda_bench::Bench&);                                   \
  static const ::mapet::cuda_bench::Registration op##_cuda_bench_registration(#op, op##_cuda_bench); \
  static void op##_cuda_bench([[maybe_unused]] ::mapet::cuda_bench::Bench& b)
