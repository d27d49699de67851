#include "data/resample.h"

#include <algorithm>
#include <cmath>

#include "engine/tensor.h"

namespace mapet::data {

double filter_support(Filter f) { return f == Filter::bicubic ? 2.0 : 1.0; }

double filter_weight(Filter f, double x) {
  x = std::fabs(x);
  if (f == Filter::bilinear) return x < 1.0 ? 1.0 - x : 0.0;
  const double a = -0.5;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

namespace {

// The taps of one axis: output i reads `count[i]` source pixels from `first[i]`
// with weights w[i * max_taps + k] (normalised to sum to 1).
struct Taps {
  int max_taps = 0;
  std::vector<int> first, count;
  std::vector<float> w;
};

Taps make_taps(int in_size, double in0, double in1, int out_size, Filter f) {
  double scale = (in1 - in0) / out_size;
  double filterscale = std::max(scale, 1.0);  // stretch the filter when downscaling: antialiasing
  double support = filter_support(f) * filterscale;
  Taps t;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.w.assign(static_cast<size_t>(out_size) * t.max_taps, 0.0f);
  std::vector<double> k(t.max_taps);
  for (int i = 0; i < out_size; ++i) {
    double center = in0 + (i + 0.5) * scale;
    // PIL's rounding: truncation of (edge + 0.5), then clipped to the image.
    int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    int n = std::max(hi - lo, 0);
    n = std::min(n, t.max_taps);
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += k[j] = filter_weight(f, (j + lo - center + 0.5) / filterscale);
    for (int j = 0; j < n; ++j) t.w[static_cast<size_t>(i) * t.max_taps + j] = static_cast<float>(sum != 0 ? k[j] / sum : 0);
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

void check_args(const Image& src, const Box& box, int out_w, int out_h) {
  if (src.width <= 0 || src.height <= 0 || out_w <= 0 || out_h <= 0 || !(box.width() > 0) || !(box.height() > 0))
    throw Error("resample: empty source (" + std::to_string(src.width) + "x" + std::to_string(src.height) +
                "), box or output (" + std::to_string(out_w) + "x" + std::to_string(out_h) + ")");
}

}  // namespace

Image resample(const Image& src, const Box& box, int out_w, int out_h, Filter f) {
  check_args(src, box, out_w, out_h);
  Taps tx = make_taps(src.width, box.x0, box.x1, out_w, f);
  Taps ty = make_taps(src.height, box.y0, box.y1, out_h, f);
  // Only the source rows some output row reads go through the horizontal pass.
  int row_lo = src.height, row_hi = 0;
  for (int y = 0; y < out_h; ++y)
    if (ty.count[y] > 0) row_lo = std::min(row_lo, ty.first[y]), row_hi = std::max(row_hi, ty.first[y] + ty.count[y]);
  row_hi = std::max(row_hi, row_lo);
  const int stride = out_w * 3;
  thread_local std::vector<float> tmp;  // reused across calls: no page faults per image
  tmp.resize(static_cast<size_t>(row_hi - row_lo) * stride);

  for (int y = row_lo; y < row_hi; ++y) {
    const uint8_t* s = src.row(y);
    float* t = tmp.data() + static_cast<size_t>(y - row_lo) * stride;
    for (int x = 0; x < out_w; ++x) {
      const float* w = &tx.w[static_cast<size_t>(x) * tx.max_taps];
      const uint8_t* p = s + tx.first[x] * 3;
      float r = 0, g = 0, b = 0;
      for (int k = 0; k < tx.count[x]; ++k, p += 3) r += w[k] * p[0], g += w[k] * p[1], b += w[k] * p[2];
      t[x * 3 + 0] = r, t[x * 3 + 1] = g, t[x * 3 + 2] = b;
    }
  }

  Image out(out_w, out_h);
  thread_local std::vector<float> acc;
  acc.resize(stride);
  for (int y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* w = &ty.w[static_cast<size_t>(y) * ty.max_taps];
    for (int k = 0; k < ty.count[y]; ++k) {
      const float* t = tmp.data() + static_cast<size_t>(ty.first[y] + k - row_lo) * stride;
      const float wk = w[k];
      float* a = acc.data();
      for (int i = 0; i < stride; ++i) a[i] += wk * t[i];
    }
    uint8_t* o = out.row(y);
    for (int i = 0; i < stride; ++i) o[i] = static_cast<uint8_t>(std::clamp(acc[i] + 0.5f, 0.0f, 255.0f));
  }
  return out;
}

std::vector<double> resample_reference(const Image& src, const Box& box, int out_w, int out_h, Filter f) {
  check_args(src, box, out_w, out_h);
  // The weights of source pixel j for output i along one axis, straight from the definition.
  auto weights = [f](int in_size, double in0, double in1, int out_size, int i) {
    double scale = (in1 - in0) / out_size;
    double stretch = scale > 1.0 ? scale : 1.0;
    double support = filter_support(f) * stretch;
    double center = in0 + (i + 0.5) * scale;
    int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    std::vector<double> w(in_size, 0.0);
    double sum = 0;
    for (int j = lo; j < hi; ++j) sum += w[j] = filter_weight(f, (j + 0.5 - center) / stretch);
    if (sum != 0)
      for (double& v : w) v /= sum;
    return w;
  };
  std::vector<double> out(static_cast<size_t>(out_w) * out_h * 3, 0.0);
  for (int y = 0; y < out_h; ++y) {
    std::vector<double> wy = weights(src.height, box.y0, box.y1, out_h, y);
    for (int x = 0; x < out_w; ++x) {
      std::vector<double> wx = weights(src.width, box.x0, box.x1, out_w, x);
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int j = 0; j < src.height; ++j)
          for (int i = 0; i < src.width; ++i) s += wy[j] * wx[i] * src.at(i, j, c);
        out[(static_cast<size_t>(y) * out_w + x) * 3 + c] = s;
      }
    }
  }
  return out;
}

}  // namespace mapet::data
