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

namespace mapet::data {

enum class Filter { bilinear, bicubic };

// A region of the source in pixel coordinates (edges, not centers); may be fractional.
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double width() const { return x1 - x0; }
  double height() const { return y1 - y0; }
};

// The filter's value at distance x (in source pixels, before stretching).
double filter_weight(Filter f, double x);
double filter_support(Filter f);

// The source pixels [first, last) of one axis (in_size long) that resampling
// its span [in0, in1) to out_size pixels reads: all a crop needs decoded.
std::pair<int, int> resample_source_range(int in_size, double in0, double in1, int out_size, Filter f);

// Fast separable resampler: vertical pass into a float buffer (only the
// columns the horizontal pass reads), horizontal pass rounded to 8 bits. PIL
// goes horizontal first and rounds its intermediate to 8 bits; we keep it in
// float, so results can differ from PIL's by a level or two (more only next to
// overshoot clamped at 0 or 255).
Image resample(const Image& src, const Box& box, int out_w, int out_h, Filter f);
// The same into `out`, whose buffer is reused when it already has the size.
void resample_into(const Image& src, const Box& box, int out_w, int out_h, Filter f, Image& out);

// Reference: every output pixel summed directly from the filter definition in
// float64, no tables, no intermediate rounding or clamping. Returns
// out_h x out_w x 3 values (not rounded, not clamped). For tests.
std::vector<double> resample_reference(const Image& src, const Box& box, int out_w, int out_h, Filter f);

}  // namespace mapet::data
