#include "data/resample.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/tensor.h"

// Calls inside name the level (MAPET_ISA::f): the arguments' types would also find
// the public mapet::data::f by argument-dependent lookup.
namespace mapet::data::MAPET_ISA {

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
// with weights w[i * max_taps + k] (normalised to sum to 1). The arithmetic is
// PIL's, step for step (the filter argument is multiplied by 1 / filterscale,
// not divided), so the fixed-point weights below round exactly as PIL's do.
struct Taps {
  int max_taps = 0;
  std::vector<int> first, count;
  std::vector<double> w;
};

Taps make_taps(int in_size, double in0, double in1, int out_size, Filter f) {
  double scale = (in1 - in0) / out_size;
  double filterscale = std::max(scale, 1.0);  // stretch the filter when downscaling: antialiasing
  double support = MAPET_ISA::filter_support(f) * filterscale;
  double inv = 1.0 / filterscale;
  Taps t;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.w.assign(static_cast<size_t>(out_size) * t.max_taps, 0.0);
  for (int i = 0; i < out_size; ++i) {
    double center = in0 + (i + 0.5) * scale;
    // PIL's rounding: truncation of (edge + 0.5), then clipped to the image.
    int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    int n = std::min(std::max(hi - lo, 0), t.max_taps);
    double* k = &t.w[static_cast<size_t>(i) * t.max_taps];
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += k[j] = MAPET_ISA::filter_weight(f, (j + lo - center + 0.5) * inv);
    if (sum != 0)
      for (int j = 0; j < n; ++j) k[j] /= sum;
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

void check_args(ImageView src, const Box& box, int out_w, int out_h) {
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

void resample_float_into(ImageView src, const Box& box, int out_w, int out_h, Filter f, Image& out) {
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
    const double* w = &ty.w[static_cast<size_t>(y) * ty.max_taps];
    const uint8_t* s0 = src.row(ty.first[y]) + col_lo * 3;
    const size_t row_bytes = src.stride;
    int i = 0;
#ifdef __AVX2__
    // 32 values at a time kept in registers across all taps.
    for (; i + 32 <= stride; i += 32) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int k = 0; k < ty.count[y]; ++k) {
        const uint8_t* s = s0 + k * row_bytes + i;
        __m256 wk = _mm256_set1_ps(static_cast<float>(w[k]));
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
      for (int k = 0; k < ty.count[y]; ++k) a += static_cast<float>(w[k]) * s0[k * row_bytes + i];
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
      std::fill_n(&wx[(static_cast<size_t>(x) * pairs + k / 2) * 8 + (k % 2) * 4], 4,
                  static_cast<float>(tx.w[static_cast<size_t>(x) * tx.max_taps + k]));
  if (out.width != out_w || out.height != out_h) out = Image(out_w, out_h);
#if defined(__SSE2__)
  const __m128 half = _mm_set1_ps(0.5f), zero = _mm_setzero_ps(), top = _mm_set1_ps(255.0f);
#endif
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
#elif defined(__SSE2__)
      __m128 acc = _mm_setzero_ps();
      for (int k = 0; k < n; ++k) {
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(w + 8 * k), _mm_loadu_ps(p + 6 * k)));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(w + 8 * k + 4), _mm_loadu_ps(p + 6 * k + 3)));
      }
#endif
#if defined(__SSE2__)
      __m128i v = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(_mm_add_ps(acc, half), zero), top));
      v = _mm_packus_epi16(_mm_packs_epi32(v, v), v);  // 4 bytes: r, g, b, junk
      uint32_t rgbx = static_cast<uint32_t>(_mm_cvtsi128_si32(v));
      if (x + 1 < out_w) std::memcpy(o + x * 3, &rgbx, 4);  // the junk byte is overwritten by the next pixel
      else std::memcpy(o + x * 3, &rgbx, 3);
#else  // other architectures: the same sums one lane at a time
      float acc[3] = {};
      for (int k = 0; k < n; ++k)
        for (int c = 0; c < 3; ++c) acc[c] += w[8 * k + c] * p[6 * k + c] + w[8 * k + 4 + c] * p[6 * k + 3 + c];
      for (int c = 0; c < 3; ++c) o[x * 3 + c] = static_cast<uint8_t>(std::min(std::max(acc[c] + 0.5f, 0.0f), 255.0f));
#endif
    }
  }
}

namespace {

// PIL's fixed point for 8-bit images: 22 fractional bits (32 - 8 - 2), so a
// sum of 8-bit values times weights stays within int32.
constexpr int kBits = 22;
constexpr int32_t kHalf = 1 << (kBits - 1);

// Weights as PIL rounds them: half away from zero.
std::vector<int32_t> fixed_weights(const Taps& t) {
  std::vector<int32_t> k(t.w.size());
  for (size_t i = 0; i < k.size(); ++i) {
    double v = t.w[i] * (1 << kBits);
    k[i] = static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);
  }
  return k;
}

// A rounded sum (kHalf included) back to 8 bits, clamped.
inline uint8_t clip8(int32_t sum) { return static_cast<uint8_t>(std::clamp(sum >> kBits, 0, 255)); }

// The rows [first, last) that the vertical pass reads.
std::pair<int, int> rows_read(const Taps& ty) {
  int lo = INT32_MAX, hi = 0;
  for (size_t i = 0; i < ty.first.size(); ++i)
    if (ty.count[i] > 0) lo = std::min(lo, ty.first[i]), hi = std::max(hi, ty.first[i] + ty.count[i]);
  return lo < hi ? std::pair{lo, hi} : std::pair{0, 0};
}

#ifdef __AVX2__
// Each 22-bit weight is split as hi * 2^11 + lo (both fit int16) so that
// 16-bit multiply-adds (madd) can be used: sum(x * hi) * 2^11 + sum(x * lo)
// is exactly PIL's int32 sum.
constexpr int kSplit = 11;
inline int16_t hi_part(int32_t k) { return static_cast<int16_t>(k >> kSplit); }
inline int16_t lo_part(int32_t k) { return static_cast<int16_t>(k & ((1 << kSplit) - 1)); }

inline __m256i combine_round(__m256i hi, __m256i lo) {
  __m256i s = _mm256_add_epi32(_mm256_slli_epi32(hi, kSplit), lo);
  return _mm256_srai_epi32(_mm256_add_epi32(s, _mm256_set1_epi32(kHalf)), kBits);
}

// Horizontal pass over rows [y0, y1) of src into `mid` (out_w * 3 bytes a
// row, 4 bytes of slack at the end). One output pixel at a time: a 16-byte
// load holds source pixels 0..3 of a group of four taps (r g b r g b ...); a
// byte shuffle puts pixels 0, 1 as 16-bit pairs (r0 r1 g0 g1 b0 b1 0 0) in the
// low 128-bit lane and pixels 2, 3 in the high one, and madd multiplies each
// pair by its two weights and adds them: four taps per instruction.
void horizontal_avx2(ImageView src, int y0, int y1, const Taps& tx, const std::vector<int32_t>& k, int out_w,
                     uint8_t* mid) {
  int max_count = 0;
  for (int n : tx.count) max_count = std::max(max_count, n);
  const int groups = std::max((max_count + 3) / 4, 1);
  // Weights laid out as the shuffled pixels: per output pixel and group, 16
  // int16 (k0 k1 k0 k1 k0 k1 0 0 | k2 k3 k2 k3 k2 k3 0 0), hi parts then lo parts.
  thread_local std::vector<int16_t> wk;
  wk.assign(static_cast<size_t>(out_w) * groups * 32, 0);
  for (int x = 0; x < out_w; ++x)
    for (int j = 0; j < tx.count[x]; ++j) {
      int32_t kj = k[static_cast<size_t>(x) * tx.max_taps + j];
      int16_t* g = &wk[(static_cast<size_t>(x) * groups + j / 4) * 32];
      int lane = (j % 4) / 2, odd = j % 2;
      for (int c = 0; c < 3; ++c) {
        g[lane * 8 + 2 * c + odd] = hi_part(kj);
        g[16 + lane * 8 + 2 * c + odd] = lo_part(kj);
      }
    }
  const int8_t Z = -128;  // shuffle index that yields a zero byte
  const __m256i spread = _mm256_setr_epi8(0, Z, 3, Z, 1, Z, 4, Z, 2, Z, 5, Z, Z, Z, Z, Z,  //
                                          6, Z, 9, Z, 7, Z, 10, Z, 8, Z, 11, Z, Z, Z, Z, Z);
  // Output pixels from x_safe on would load past the window's right edge
  // (padding taps have weight 0 but are still loaded): they read a
  // zero-padded copy of the row's tail instead.
  const int row_bytes = src.width * 3;
  int x_safe = out_w;
  while (x_safe > 0 && tx.first[x_safe - 1] * 3 + 12 * (groups - 1) + 16 > row_bytes) --x_safe;
  const int tail_from = x_safe < out_w ? tx.first[x_safe] : src.width;
  thread_local std::vector<uint8_t> tail;
  tail.assign(static_cast<size_t>(src.width - tail_from) * 3 + 12 * groups + 16, 0);
  const int16_t* wkp = wk.data();  // not the thread_local itself in the loop: its address lookup costs
  uint8_t* tailp = tail.data();
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = src.row(y);
    uint8_t* o = mid + static_cast<size_t>(y - y0) * out_w * 3;
    std::memcpy(tailp, row + tail_from * 3, static_cast<size_t>(src.width - tail_from) * 3);
    for (int x = 0; x < out_w; ++x) {
      const uint8_t* p = x < x_safe ? row + tx.first[x] * 3 : tailp + (tx.first[x] - tail_from) * 3;
      const __m256i* w = reinterpret_cast<const __m256i*>(wkp + static_cast<size_t>(x) * groups * 32);
      __m256i hi = _mm256_setzero_si256(), lo = hi;
      for (int g = 0; g < groups; ++g) {
        __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12 * g)));
        v = _mm256_shuffle_epi8(v, spread);
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(v, _mm256_loadu_si256(w + 2 * g)));
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(v, _mm256_loadu_si256(w + 2 * g + 1)));
      }
      // Both lanes hold (r, g, b, 0) partial sums: add them, round, shift.
      __m256i s = _mm256_add_epi32(_mm256_slli_epi32(hi, kSplit), lo);
      __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      t = _mm_srai_epi32(_mm_add_epi32(t, _mm_set1_epi32(kHalf)), kBits);
      t = _mm_packus_epi16(_mm_packs_epi32(t, t), t);  // saturating packs: the clamp to 0..255
      uint32_t rgbx = static_cast<uint32_t>(_mm_cvtsi128_si32(t));
      std::memcpy(o + x * 3, &rgbx, 4);  // the fourth byte is overwritten by the next pixel (or is slack)
    }
  }
}

#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
// k as three balanced base-256 digits, k = d2 2^16 + d1 2^8 + d0 with each d
// in [-128, 127]; false if it needs a fourth (|k| > 127 * (2^16 + 2^8 + 1)).
bool to_digits(int32_t k, int8_t digit[3]) {
  for (int d = 0; d < 3; ++d) {
    digit[d] = static_cast<int8_t>(((k + 128) & 255) - 128);
    k = (k - digit[d]) >> 8;
  }
  return k == 0;
}

// s0 + s1 2^8 + s2 2^16, rounded and shifted as PIL's sums.
inline __m512i recombine(__m512i s0, __m512i s1, __m512i s2) {
  __m512i sum = _mm512_add_epi32(_mm512_slli_epi32(s2, 16), _mm512_slli_epi32(s1, 8));
  sum = _mm512_add_epi32(_mm512_add_epi32(sum, s0), _mm512_set1_epi32(kHalf));
  return _mm512_srai_epi32(sum, kBits);
}
#endif

#if defined(__AVX512BW__) && defined(__AVX512VBMI__) && defined(__AVX512VNNI__)
// With AVX-512 VBMI + VNNI, five output pixels at a time. The 15 values
// (r g b of five pixels) each get an int32 lane of a 512-bit vector (one
// spare); vpdpbusd multiplies four unsigned bytes by four signed bytes and
// adds the four products to a lane, so a lane takes four taps at once, with
// the source bytes used as they are. The weights do not fit a signed byte:
// each is written in three balanced base-256 digits, k = d2 2^16 + d1 2^8 + d0
// (d in [-128, 127]), one vpdpbusd per digit, and the three sums are
// recombined exactly (int32 arithmetic wraps, and PIL's total fits int32).
// When the taps of five neighbouring outputs lie within 64 bytes of the row
// (21 pixels; true for scales up to about 3), one load brings them all and
// one byte permutation (vpermb) per group of four taps places them. Returns
// false, having done nothing, when some block does not fit (or a weight
// needs a fourth digit: |w| >= 1.99, which PIL's normalised weights never reach).
bool horizontal_vnni(ImageView src, int y0, int y1, const Taps& tx, const std::vector<int32_t>& k, int out_w,
                     uint8_t* mid) {
  constexpr int kPer = 5;  // output pixels per block
  const int blocks = (out_w + kPer - 1) / kPer;
  int groups = 1;
  for (int b = 0; b < blocks; ++b) {
    const int x0 = kPer * b, xl = std::min(x0 + kPer - 1, out_w - 1);
    if ((tx.first[xl] + tx.count[xl] - tx.first[x0]) * 3 > 64) return false;
    for (int x = x0; x <= xl; ++x) groups = std::max(groups, (tx.count[x] + 3) / 4);
  }
  // Per block and group of four taps: 64 byte indices, then the 64 bytes of each digit.
  thread_local std::vector<uint8_t> tab;
  tab.assign(static_cast<size_t>(blocks) * groups * 256, 0);
  for (int x = 0; x < out_w; ++x) {
    const int b = x / kPer, slot = x % kPer;
    for (int j = 0; j < tx.count[x]; ++j) {
      uint8_t* t = &tab[(static_cast<size_t>(b) * groups + j / 4) * 256];
      int8_t digit[3];
      if (!to_digits(k[static_cast<size_t>(x) * tx.max_taps + j], digit)) return false;
      for (int c = 0; c < 3; ++c) {
        const int at = 4 * (slot * 3 + c) + j % 4;  // byte j % 4 of int32 lane slot * 3 + c
        t[at] = static_cast<uint8_t>((tx.first[x] + j - tx.first[kPer * b]) * 3 + c);
        for (int d = 0; d < 3; ++d) t[64 * (d + 1) + at] = static_cast<uint8_t>(digit[d]);
      }
    }
  }
  const int row_bytes = src.width * 3;
  const uint8_t* tp = tab.data();
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = src.row(y);
    uint8_t* o = mid + static_cast<size_t>(y - y0) * out_w * 3;
    for (int b = 0; b < blocks; ++b) {
      // A masked load never touches the bytes past the window's edge.
      const int base = tx.first[kPer * b] * 3, n = row_bytes - base;
      const __mmask64 m = n <= 0 ? 0 : n >= 64 ? ~0ull : (1ull << n) - 1;
      const __m512i v = _mm512_maskz_loadu_epi8(m, row + base);
      __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0;
      for (int g = 0; g < groups; ++g) {
        const uint8_t* t = tp + (static_cast<size_t>(b) * groups + g) * 256;
        const __m512i p = _mm512_permutexvar_epi8(_mm512_loadu_si512(t), v);
        s0 = _mm512_dpbusd_epi32(s0, p, _mm512_loadu_si512(t + 64));
        s1 = _mm512_dpbusd_epi32(s1, p, _mm512_loadu_si512(t + 128));
        s2 = _mm512_dpbusd_epi32(s2, p, _mm512_loadu_si512(t + 192));
      }
      const __m512i sum = _mm512_max_epi32(recombine(s0, s1, s2), _mm512_setzero_si512());
      // Unsigned saturation to bytes clamps at 255; byte 15 is spare (slack
      // or the next block's first byte, written after).
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 3 * kPer * b), _mm512_cvtusepi32_epi8(sum));
    }
  }
  return true;
}
#endif

#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
// Vertical pass with VNNI: 64 bytes of the output row at a time. Four source
// rows are interleaved byte by byte (two unpack steps) so that each int32
// lane holds one byte position of four rows, and vpdpbusd applies four taps
// at once, per weight digit as in horizontal_vnni. The unpacks and the final
// packs all work within 128-bit lanes, so the bytes come out in order.
// Returns false, having done nothing, if a weight needs a fourth digit.
bool vertical_vnni(const uint8_t* mid, const Taps& ty, const std::vector<int32_t>& k, int y_lo, Image& out) {
  const int row_bytes = out.width * 3;
  struct Group {
    const uint8_t* row[4];
    int32_t digits[3];  // four signed bytes each: digit d of taps j .. j + 3
  };
  std::vector<std::vector<Group>> plan(out.height);
  for (int y = 0; y < out.height; ++y) {
    const int n = ty.count[y];
    const uint8_t* first = mid + static_cast<size_t>(ty.first[y] - y_lo) * row_bytes;
    for (int j = 0; j < n; j += 4) {
      Group g{};
      for (int t = 0; t < 4; ++t) {
        const bool real = j + t < n;  // padding taps: weight 0, any readable row
        g.row[t] = first + static_cast<size_t>(real ? j + t : j) * row_bytes;
        int8_t digit[3] = {0, 0, 0};
        if (real && !to_digits(k[static_cast<size_t>(y) * ty.max_taps + j + t], digit)) return false;
        for (int d = 0; d < 3; ++d) g.digits[d] |= int32_t(uint32_t(uint8_t(digit[d])) << (8 * t));
      }
      plan[y].push_back(g);
    }
  }
  for (int y = 0; y < out.height; ++y) {
    uint8_t* o = out.row(y);
    for (int i = 0; i < row_bytes; i += 64) {
      __m512i s[4][3];
      for (auto& q : s) q[0] = q[1] = q[2] = _mm512_setzero_si512();
      for (const Group& g : plan[y]) {
        const __m512i a = _mm512_loadu_si512(g.row[0] + i), b = _mm512_loadu_si512(g.row[1] + i);
        const __m512i c = _mm512_loadu_si512(g.row[2] + i), d = _mm512_loadu_si512(g.row[3] + i);
        const __m512i ab0 = _mm512_unpacklo_epi8(a, b), ab1 = _mm512_unpackhi_epi8(a, b);
        const __m512i cd0 = _mm512_unpacklo_epi8(c, d), cd1 = _mm512_unpackhi_epi8(c, d);
        // Quads of bytes 0-3, 4-7, 8-11, 12-15 of each 128-bit lane.
        const __m512i q[4] = {_mm512_unpacklo_epi16(ab0, cd0), _mm512_unpackhi_epi16(ab0, cd0),
                              _mm512_unpacklo_epi16(ab1, cd1), _mm512_unpackhi_epi16(ab1, cd1)};
        for (int dg = 0; dg < 3; ++dg) {
          const __m512i w = _mm512_set1_epi32(g.digits[dg]);
          for (int r = 0; r < 4; ++r) s[r][dg] = _mm512_dpbusd_epi32(s[r][dg], q[r], w);
        }
      }
      const __m512i lo = _mm512_packs_epi32(recombine(s[0][0], s[0][1], s[0][2]), recombine(s[1][0], s[1][1], s[1][2]));
      const __m512i hi = _mm512_packs_epi32(recombine(s[2][0], s[2][1], s[2][2]), recombine(s[3][0], s[3][1], s[3][2]));
      const __m512i bytes = _mm512_packus_epi16(lo, hi);  // saturating packs: the clamp to 0..255
      const int left = row_bytes - i;
      if (left >= 64) _mm512_storeu_si512(o + i, bytes);
      else _mm512_mask_storeu_epi8(o + i, (1ull << left) - 1, bytes);
    }
  }
  return true;
}
#endif

// Vertical pass: 16 bytes of the output row at a time; two source rows are
// widened to 16 bits and interleaved so that madd applies two taps at once.
void vertical_avx2(const uint8_t* mid, const Taps& ty, const std::vector<int32_t>& k, int y_lo,
                   Image& out) {
  const int row_bytes = out.width * 3;
  std::vector<int32_t> kh, kl;  // packed int16 weight pairs, broadcast in the loop
  std::vector<const uint8_t*> r0, r1;
  for (int y = 0; y < out.height; ++y) {
    const int n = ty.count[y];
    const int32_t* ky = &k[static_cast<size_t>(y) * ty.max_taps];
    kh.clear(), kl.clear(), r0.clear(), r1.clear();
    for (int j = 0; j < n; j += 2) {
      int32_t a = ky[j], b = j + 1 < n ? ky[j + 1] : 0;
      auto pair = [](int16_t u, int16_t v) { return int32_t(uint32_t(uint16_t(u)) | (uint32_t(uint16_t(v)) << 16)); };
      kh.push_back(pair(hi_part(a), hi_part(b)));
      kl.push_back(pair(lo_part(a), lo_part(b)));
      const uint8_t* ra = mid + static_cast<size_t>(ty.first[y] - y_lo + j) * row_bytes;
      r0.push_back(ra);
      r1.push_back(j + 1 < n ? ra + row_bytes : ra);  // an odd last tap pairs with itself, weight 0
    }
    uint8_t* o = out.row(y);
    int i = 0;
    for (; i < row_bytes; i += 16) {
      __m256i h0 = _mm256_setzero_si256(), h1 = h0, l0 = h0, l1 = h0;
      for (size_t q = 0; q < kh.size(); ++q) {
        __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0[q] + i)));
        __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r1[q] + i)));
        __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
        const __m256i wh = _mm256_set1_epi32(kh[q]), wl = _mm256_set1_epi32(kl[q]);
        h0 = _mm256_add_epi32(h0, _mm256_madd_epi16(lo, wh));
        h1 = _mm256_add_epi32(h1, _mm256_madd_epi16(hi, wh));
        l0 = _mm256_add_epi32(l0, _mm256_madd_epi16(lo, wl));
        l1 = _mm256_add_epi32(l1, _mm256_madd_epi16(hi, wl));
      }
      // unpacklo/hi work within 128-bit lanes, and so does packs: the two
      // undo each other, leaving bytes 0..7 | 8..15 in qwords 0 and 2.
      __m256i v = _mm256_packs_epi32(combine_round(h0, l0), combine_round(h1, l1));
      v = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), _MM_SHUFFLE(3, 1, 2, 0));
      __m128i bytes = _mm256_castsi256_si128(v);
      if (i + 16 <= row_bytes) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i), bytes);
      } else {
        alignas(16) uint8_t last[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(last), bytes);
        std::memcpy(o + i, last, row_bytes - i);
      }
    }
  }
}
#endif

}  // namespace

Image resample_exact_scalar(ImageView src, const Box& box, int out_w, int out_h, Filter f) {
  check_args(src, box, out_w, out_h);
  Taps tx = make_taps(src.width, box.x0, box.x1, out_w, f), ty = make_taps(src.height, box.y0, box.y1, out_h, f);
  std::vector<int32_t> kx = fixed_weights(tx), ky = fixed_weights(ty);
  auto [y_lo, y_hi] = rows_read(ty);
  Image mid(out_w, y_hi - y_lo);  // horizontal pass first, rounded to 8 bits, as PIL
  for (int y = y_lo; y < y_hi; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < 3; ++c) {
        int32_t sum = kHalf;
        for (int j = 0; j < tx.count[x]; ++j)
          sum += src.at(tx.first[x] + j, y, c) * kx[static_cast<size_t>(x) * tx.max_taps + j];
        mid.row(y - y_lo)[x * 3 + c] = clip8(sum);
      }
  Image out(out_w, out_h);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < 3; ++c) {
        int32_t sum = kHalf;
        for (int j = 0; j < ty.count[y]; ++j)
          sum += mid.at(x, ty.first[y] - y_lo + j, c) * ky[static_cast<size_t>(y) * ty.max_taps + j];
        out.row(y)[x * 3 + c] = clip8(sum);
      }
  return out;
}

void resample_into(ImageView src, const Box& box, int out_w, int out_h, Filter f, Image& out) {
#ifdef __AVX2__
  check_args(src, box, out_w, out_h);
  Taps tx = make_taps(src.width, box.x0, box.x1, out_w, f), ty = make_taps(src.height, box.y0, box.y1, out_h, f);
  auto [y_lo, y_hi] = rows_read(ty);
  thread_local std::vector<uint8_t> mid;  // reused: no fresh pages per image
  mid.resize(static_cast<size_t>(y_hi - y_lo) * out_w * 3 + 64);  // slack: stores and loads past a row's end
  const std::vector<int32_t> kx = fixed_weights(tx);
#if defined(__AVX512BW__) && defined(__AVX512VBMI__) && defined(__AVX512VNNI__)
  if (!horizontal_vnni(src, y_lo, y_hi, tx, kx, out_w, mid.data()))
#endif
    horizontal_avx2(src, y_lo, y_hi, tx, kx, out_w, mid.data());
  if (out.width != out_w || out.height != out_h) out = Image(out_w, out_h);
  const std::vector<int32_t> ky = fixed_weights(ty);
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
  if (!vertical_vnni(mid.data(), ty, ky, y_lo, out))
#endif
    vertical_avx2(mid.data(), ty, ky, y_lo, out);
#else
  out = MAPET_ISA::resample_exact_scalar(src, box, out_w, out_h, f);
#endif
}

Image resample(ImageView src, const Box& box, int out_w, int out_h, Filter f) {
  Image out;
  MAPET_ISA::resample_into(src, box, out_w, out_h, f, out);
  return out;
}

std::vector<double> resample_reference(ImageView src, const Box& box, int out_w, int out_h, Filter f) {
  check_args(src, box, out_w, out_h);
  // The weights of source pixel j for output i along one axis, straight from the definition.
  auto weights = [f](int in_size, double in0, double in1, int out_size, int i) {
    double scale = (in1 - in0) / out_size;
    double stretch = scale > 1.0 ? scale : 1.0;
    double support = MAPET_ISA::filter_support(f) * stretch;
    double center = in0 + (i + 0.5) * scale;
    int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    std::vector<double> w(in_size, 0.0);
    double sum = 0;
    for (int j = lo; j < hi; ++j) sum += w[j] = MAPET_ISA::filter_weight(f, (j + 0.5 - center) / stretch);
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

}  // namespace mapet::data::MAPET_ISA
