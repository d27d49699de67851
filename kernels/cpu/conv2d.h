// 2-D convolution on the CPU for the CLIP ResNet feature extractors (forward
// only), on NHWC activations with PyTorch's [c_out, c_in, kh, kw] weights.
// oneDNN does the work: the weights are reordered once into the layout its
// fastest kernel for this CPU wants, and primitives are cached per input size.
#pragma once
#include <cstdint>
#include <memory>

#include "kernels/common/conv2d.h"

namespace mapet::cpu {

using common::ConvGeometry;

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
