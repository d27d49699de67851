// Image resizing with PIL's filters and PIL's geometry (Image.resize with a
// box): output pixel x samples the source around
//   center = box.x0 + (x + 0.5) * scale,  scale = (box.x1 - box.x0) / out_w,
// with the filter stretched by max(scale, 1) when downscaling (antialiasing),
// taps restricted to the image and renormalised to sum to 1. The filters are
//   bilinear: triangle, support 1
//   bicubic:  Keys' cubic with a = -0.5, support 2
// torchvision's resize / resized_crop on PIL images call exactly this.
#pragma once
#include <utility>
#include <vector>

#include "data/image.h"
#include "kernels/cpu/isa.h"

namespace mapet::data {

enum class Filter { bilinear, bicubic };

// A region of the source in pixel coordinates (edges, not centers); may be fractional.
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double width() const { return x1 - x0; }
  double height() const { return y1 - y0; }
};

// The filter's value at distance x (in source pixels, before stretching).
MAPET_ISA_FUNCTION(double, filter_weight, (Filter f, double x), (f, x))
MAPET_ISA_FUNCTION(double, filter_support, (Filter f), (f))

// The source pixels [first, last) of one axis (in_size long) that resampling
// its span [in0, in1) to out_size pixels reads: all a crop needs decoded.
using SourceRange = std::pair<int, int>;
MAPET_ISA_FUNCTION(SourceRange, resample_source_range, (int in_size, double in0, double in1, int out_size, Filter f),
                   (in_size, in0, in1, out_size, f))

// A read-only window of 8-bit RGB pixels (rows `stride` bytes apart). The
// resampler clips its taps at the window's edges, as at an image's: a window
// of a decoded image behaves as PIL's crop() followed by resize().
struct ImageView {
  const uint8_t* data = nullptr;
  int width = 0, height = 0;
  size_t stride = 0;
  ImageView() = default;
  ImageView(const Image& im) : data(im.pixels.data()), width(im.width), height(im.height), stride(size_t(im.width) * 3) {}
  const uint8_t* row(int y) const { return data + static_cast<size_t>(y) * stride; }
  uint8_t at(int x, int y, int c) const { return row(y)[x * 3 + c]; }
  // Columns [x0, x1), rows [y0, y1) of this view.
  ImageView crop(int x0, int y0, int x1, int y1) const {
    ImageView v = *this;
    v.data = row(y0) + x0 * 3;
    v.width = x1 - x0, v.height = y1 - y0;
    return v;
  }
};

// PIL's resize of 8-bit images, bit for bit: PIL rounds each weight to a
// fixed-point integer (22 fractional bits), runs the horizontal pass first,
// rounds and clamps that intermediate to 8 bits, then the vertical pass.
// Integer SIMD (AVX2, AVX-512 VNNI) where the CPU has it, else resample_exact_scalar.
MAPET_ISA_FUNCTION(Image, resample, (ImageView src, const Box& box, int out_w, int out_h, Filter f),
                   (src, box, out_w, out_h, f))
// The same into `out`, whose buffer is reused when it already has the size.
MAPET_ISA_FUNCTION(void, resample_into, (ImageView src, const Box& box, int out_w, int out_h, Filter f, Image& out),
                   (src, box, out_w, out_h, f, out))
// The same computation written plainly, one tap at a time: the fast path's
// reference in the tests, and the fallback without AVX2.
MAPET_ISA_FUNCTION(Image, resample_exact_scalar, (ImageView src, const Box& box, int out_w, int out_h, Filter f),
                   (src, box, out_w, out_h, f))

// The previous fast path, kept as a second reference: separable in float
// (vertical pass first), rounded to 8 bits once at the end, so it differs
// from PIL by a level or two (more only next to overshoot clamped at 0 or 255).
MAPET_ISA_FUNCTION(void, resample_float_into, (ImageView src, const Box& box, int out_w, int out_h, Filter f, Image& out),
                   (src, box, out_w, out_h, f, out))

// Reference: every output pixel summed directly from the filter definition in
// float64, no tables, no intermediate rounding or clamping. Returns
// out_h x out_w x 3 values (not rounded, not clamped). For tests.
MAPET_ISA_FUNCTION(std::vector<double>, resample_reference, (ImageView src, const Box& box, int out_w, int out_h, Filter f),
                   (src, box, out_w, out_h, f))

}  // namespace mapet::data
