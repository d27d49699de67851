// ToTensor + ColorJitter + Normalize (data/transforms.h), compiled once per
// instruction-set level (kernels/cpu/isa.h): the loader runs it on every pixel.
#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "data/transforms.h"

namespace mapet::data::MAPET_ISA {

namespace {

// torchvision's grey level of an RGB pixel.
inline float grey(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }
inline float blend(float v, float other, float ratio) {
  return std::min(std::max(ratio * v + (1 - ratio) * other, 0.0f), 1.0f);
}

// One ColorJitter op (0 brightness, 1 contrast with mean grey level m,
// 2 saturation) on n pixels of three planes, in place. Plain loops over
// contiguous floats: the compiler vectorises them.
void jitter_op(int op, const Jitter& j, float m, float* r, float* g, float* b, size_t n) {
  if (op == 0 && j.brightness != 1) {
    const float f = j.brightness;
    for (size_t i = 0; i < n; ++i) r[i] = blend(r[i], 0.0f, f), g[i] = blend(g[i], 0.0f, f), b[i] = blend(b[i], 0.0f, f);
  } else if (op == 1 && j.contrast != 1) {
    const float f = j.contrast;
    for (size_t i = 0; i < n; ++i) r[i] = blend(r[i], m, f), g[i] = blend(g[i], m, f), b[i] = blend(b[i], m, f);
  } else if (op == 2 && j.saturation != 1) {
    const float f = j.saturation;
    for (size_t i = 0; i < n; ++i) {
      const float gv = grey(r[i], g[i], b[i]);
      r[i] = blend(r[i], gv, f), g[i] = blend(g[i], gv, f), b[i] = blend(b[i], gv, f);
    }
  }
}

// Sum of the grey levels of n pixels, in 8 independent lanes (vectorisable;
// float partial sums of at most a row are exact enough for a mean).
double grey_total(const float* r, const float* g, const float* b, size_t n) {
  float lane[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += grey(r[i + k], g[i + k], b[i + k]);
  double sum = 0;
  for (; i < n; ++i) sum += grey(r[i], g[i], b[i]);
  for (float v : lane) sum += v;
  return sum;
}

}  // namespace

void to_normalized_chw(const Image& img, bool flip, const Jitter& jitter, const Rgb& mean, const Rgb& std, float* out) {
  const int w = img.width, h = img.height;
  const size_t plane = static_cast<size_t>(w) * h;
  // y = (x / 255 - mean) / std = x * a + b
  float a[3], b[3];
  for (int c = 0; c < 3; ++c) a[c] = 1.0f / (255.0f * std[c]), b[c] = -mean[c] / std[c];
  if (!jitter.active()) {
#if defined(__AVX512VBMI__)
    // 16 pixels at a time: one 48-byte load, then per channel one byte
    // permutation picks its 16 values (in reverse order when flipped).
    __m512i pick[3];
    for (int c = 0; c < 3; ++c) {
      alignas(64) uint8_t idx[64] = {};
      for (int i = 0; i < 16; ++i) idx[i] = static_cast<uint8_t>(3 * (flip ? 15 - i : i) + c);
      pick[c] = _mm512_load_si512(idx);
    }
    const int wide = w / 16 * 16;
#else
    const int wide = 0;
#endif
    for (int y = 0; y < h; ++y) {
      const uint8_t* s = img.row(y);
      float* o[3] = {out + static_cast<size_t>(y) * w, out + plane + static_cast<size_t>(y) * w,
                     out + 2 * plane + static_cast<size_t>(y) * w};
#if defined(__AVX512VBMI__)
      for (int x = 0; x < wide; x += 16) {
        const __m512i v = _mm512_maskz_loadu_epi8((1ull << 48) - 1, s + 3 * (flip ? w - 16 - x : x));
        for (int c = 0; c < 3; ++c) {
          const __m128i bytes = _mm512_castsi512_si128(_mm512_permutexvar_epi8(pick[c], v));
          const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
          _mm512_storeu_ps(o[c] + x, _mm512_fmadd_ps(f, _mm512_set1_ps(a[c]), _mm512_set1_ps(b[c])));
        }
      }
#endif
      for (int c = 0; c < 3; ++c)
        for (int x = wide; x < w; ++x) o[c][x] = std::fma(float(s[3 * (flip ? w - 1 - x : x) + c]), a[c], b[c]);
    }
    return;
  }
  // Colour jitter as torchvision's tensor functions define it, on [0, 1] floats:
  // brightness blends with black, contrast with the mean grey level of the
  // image, saturation with each pixel's grey level; each result clamped to [0, 1].
  // Everything is per pixel except contrast's mean (of the image as the ops
  // before contrast left it), so: a first sweep computes that mean on one row
  // at a time (nothing stored), a second one makes each output row in cache:
  // load, the three ops in their order, normalise.
  auto load_row = [&](int y, float* r, float* g, float* b) {
    const uint8_t* s = img.row(y);
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = s + 3 * (flip ? w - 1 - x : x);
      r[x] = p[0] / 255.0f, g[x] = p[1] / 255.0f, b[x] = p[2] / 255.0f;  // as ToTensor: divided
    }
  };
  float m = 0;
  if (jitter.contrast != 1) {
    const int before = static_cast<int>(std::find(jitter.order.begin(), jitter.order.end(), 1) - jitter.order.begin());
    thread_local std::vector<float> row;
    row.resize(3 * static_cast<size_t>(w));
    float *r = row.data(), *g = r + w, *b = g + w;
    double grey_sum = 0;
    for (int y = 0; y < h; ++y) {
      load_row(y, r, g, b);
      for (int k = 0; k < before; ++k) jitter_op(jitter.order[k], jitter, 0, r, g, b, w);
      grey_sum += grey_total(r, g, b, w);
    }
    m = static_cast<float>(grey_sum / plane);
  }
  for (int y = 0; y < h; ++y) {
    float* o[3] = {out + static_cast<size_t>(y) * w, out + plane + static_cast<size_t>(y) * w,
                   out + 2 * plane + static_cast<size_t>(y) * w};
    load_row(y, o[0], o[1], o[2]);
    for (int op : jitter.order) jitter_op(op, jitter, m, o[0], o[1], o[2], w);
    for (int c = 0; c < 3; ++c) {
      const float mc = mean[c], sc = std[c];  // locals: stores to o cannot change them
      for (int x = 0; x < w; ++x) o[c][x] = (o[c][x] - mc) / sc;
    }
  }
}

}  // namespace mapet::data::MAPET_ISA
