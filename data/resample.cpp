#include "data/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <immintrin.h>

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

std::pair<int, int> resample_source_range(int in_size, double in0, double in1, int out_size, Filter f) {
  Taps t = make_taps(in_size, in0, in1, out_size, f);
  int lo = in_size, hi = 0;
  for (int i = 0; i < out_size; ++i)
    if (t.count[i] > 0) lo = std::min(lo, t.first[i]), hi = std::max(hi, t.first[i] + t.count[i]);
  return {std::min(lo, hi), hi};
}

void resample_into(const Image& src, const Box& box, int out_w, int out_h, Filter f, Image& out) {
  check_args(src, box, out_w, out_h);
  Taps tx = make_taps(src.width, box.x0, box.x1, out_w, f);
  Taps ty = make_taps(src.height, box.y0, box.y1, out_h, f);
  // Only the source columns some output column reads take part.
  int col_lo = src.width, col_hi = 0;
  for (int x = 0; x < out_w; ++x)
    if (tx.count[x] > 0) col_lo = std::min(col_lo, tx.first[x]), col_hi = std::max(col_hi, tx.first[x] + tx.count[x]);
  col_hi = std::max(col_hi, col_lo);
  const int cols = col_hi - col_lo, stride = cols * 3;

  // Vertical pass first, on 8-bit source rows: a long contiguous loop the
  // compiler vectorises. It leaves out_h float rows (instead of box_h rows
  // for horizontal-first), so the costlier horizontal pass has fewer rows.
  thread_local std::vector<float> tmp;  // reused across calls: no page faults per image
  tmp.resize(static_cast<size_t>(out_h) * stride + 8);  // +8: the last loads read past the end
  for (int y = 0; y < out_h; ++y) {
    float* t = tmp.data() + static_cast<size_t>(y) * stride;
    const float* w = &ty.w[static_cast<size_t>(y) * ty.max_taps];
    const uint8_t* s0 = src.row(ty.first[y]) + col_lo * 3;
    const size_t row_bytes = static_cast<size_t>(src.width) * 3;
    int i = 0;
#ifdef __AVX2__
    // 32 values at a time kept in registers across all taps.
    for (; i + 32 <= stride; i += 32) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int k = 0; k < ty.count[y]; ++k) {
        const uint8_t* s = s0 + k * row_bytes + i;
        __m256 wk = _mm256_set1_ps(w[k]);
        __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
        __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
        a0 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b0)), a0);
        a1 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b0, 8))), a1);
        a2 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b1)), a2);
        a3 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b1, 8))), a3);
      }
      _mm256_storeu_ps(t + i, a0), _mm256_storeu_ps(t + i + 8, a1);
      _mm256_storeu_ps(t + i + 16, a2), _mm256_storeu_ps(t + i + 24, a3);
    }
#endif
    for (; i < stride; ++i) {
      float a = 0;
      for (int k = 0; k < ty.count[y]; ++k) a += w[k] * s0[k * row_bytes + i];
      t[i] = a;
    }
  }
  std::fill(tmp.end() - 8, tmp.end(), 0.0f);

  // Horizontal pass: one RGB pixel per 4-float vector (the fourth lane is the
  // next pixel's red, multiplied along and ignored), two taps per 8-float
  // vector with their weights laid out beforehand.
  const int pairs = (tx.max_taps + 1) / 2;
  thread_local std::vector<float> wx;
  wx.assign(static_cast<size_t>(out_w) * pairs * 8, 0.0f);
  for (int x = 0; x < out_w; ++x)
    for (int k = 0; k < tx.count[x]; ++k)
      std::fill_n(&wx[(static_cast<size_t>(x) * pairs + k / 2) * 8 + (k % 2) * 4], 4, tx.w[static_cast<size_t>(x) * tx.max_taps + k]);
  if (out.width != out_w || out.height != out_h) out = Image(out_w, out_h);
  const __m128 half = _mm_set1_ps(0.5f), zero = _mm_setzero_ps(), top = _mm_set1_ps(255.0f);
  for (int y = 0; y < out_h; ++y) {
    const float* t = tmp.data() + static_cast<size_t>(y) * stride;
    uint8_t* o = out.row(y);
    for (int x = 0; x < out_w; ++x) {
      const float* p = t + (tx.first[x] - col_lo) * 3;
      const float* w = &wx[static_cast<size_t>(x) * pairs * 8];
      const int n = (tx.count[x] + 1) / 2;  // an odd count's last pair has a zero weight
#ifdef __AVX2__
      __m256 acc2 = _mm256_setzero_ps();
      for (int k = 0; k < n; ++k)
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8 * k), _mm256_loadu2_m128(p + 6 * k + 3, p + 6 * k), acc2);
      __m128 acc = _mm_add_ps(_mm256_castps256_ps128(acc2), _mm256_extractf128_ps(acc2, 1));
#else
      __m128 acc = _mm_setzero_ps();
      for (int k = 0; k < n; ++k) {
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(w + 8 * k), _mm_loadu_ps(p + 6 * k)));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(w + 8 * k + 4), _mm_loadu_ps(p + 6 * k + 3)));
      }
#endif
      __m128i v = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(_mm_add_ps(acc, half), zero), top));
      v = _mm_packus_epi16(_mm_packs_epi32(v, v), v);  // 4 bytes: r, g, b, junk
      uint32_t rgbx = static_cast<uint32_t>(_mm_cvtsi128_si32(v));
      if (x + 1 < out_w) std::memcpy(o + x * 3, &rgbx, 4);  // the junk byte is overwritten by the next pixel
      else std::memcpy(o + x * 3, &rgbx, 3);
    }
  }
}

Image resample(const Image& src, const Box& box, int out_w, int out_h, Filter f) {
  Image out;
  resample_into(src, box, out_w, out_h, f, out);
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
