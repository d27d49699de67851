// 2-D convolution on the CPU for the CLIP ResNet feature extractors (forward
// only), on NHWC activations with PyTorch's [c_out, c_in, kh, kw] weights.
// oneDNN does the work: the weights are reordered once into the layout its
// fastest kernel for this CPU wants, and primitives are cached per input size.
#pragma once
#include <cstdint>
#include <memory>

namespace mapet::cpu {

struct ConvGeometry {
  int64_t c_in = 0, c_out = 0, kh = 1, kw = 1, stride = 1, pad = 0;
  int64_t out_h(int64_t h) const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t out_w(int64_t w) const { return (w + 2 * pad - kw) / stride + 1; }
};

class Conv2dNhwc {
 public:
  // weight and bias (bias may be null) are copied; relu applies max(0, .) to the output.
  Conv2dNhwc(const ConvGeometry& g, const float* weight, const float* bias, bool relu);
  ~Conv2dNhwc();
  Conv2dNhwc(const Conv2dNhwc&) = delete;
  Conv2dNhwc& operator=(const Conv2dNhwc&) = delete;

  const ConvGeometry& geometry() const;
  // x [n, h, w, c_in] -> y [n, out_h(h), out_w(w), c_out]. Thread-safe.
  void forward(int64_t n, int64_t h, int64_t w, const float* x, float* y) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The reference: every output summed directly in float64 from the definition.
void conv2d_nhwc_reference(const ConvGeometry& g, int64_t n, int64_t h, int64_t w, const float* x,
                           const float* weight, const float* bias, bool relu, float* y);

// AvgPool2d(k) as PyTorch defines it with kernel = stride = k, no padding:
// x [n, h, w, c] -> y [n, h / k, w / k, c] (rows and columns past the last
// whole window are dropped). Plain loops: it is its own reference.
void avg_pool_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, const float* x, float* y);

// y = max(y + r, 0) over n values: a bottleneck's residual join.
void add_relu(float* y, const float* r, int64_t n);

}  // namespace mapet::cpu
