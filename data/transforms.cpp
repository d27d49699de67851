#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>


#include "data/jpeg.h"
#include "data/jpeg_region.h"
#include "engine/tensor.h"

namespace mapet::data {

namespace {

// Python's round(): halves go to the even neighbour (the FPU's default mode).
int py_round(double x) { return static_cast<int>(std::nearbyint(x)); }

}  // namespace

void TransformConfig::validate() const {
  auto bad = [](const std::string& what) { throw Error("transform setting " + what); };
  if (size <= 0) bad("--img-size " + std::to_string(size) + " must be positive");
  if (!(scale_min > 0 && scale_min <= scale_max && scale_max <= 1))
    bad("--scale " + std::to_string(scale_min) + " " + std::to_string(scale_max) + " must satisfy 0 < min <= max <= 1");
  if (!(ratio_min > 0 && ratio_min <= ratio_max))
    bad("--ratio " + std::to_string(ratio_min) + " " + std::to_string(ratio_max) + " must satisfy 0 < min <= max");
  if (!(hflip >= 0 && hflip <= 1)) bad("--hflip " + std::to_string(hflip) + " must be a probability in [0, 1]");
  if (brightness < 0 || contrast < 0 || saturation < 0) bad("--color-jitter values must be >= 0");
  if (!(crop_pct > 0 && crop_pct <= 1)) bad("--crop-pct " + std::to_string(crop_pct) + " must be in (0, 1]");
  for (float s : std)
    if (!(s > 0)) bad("--std values must be positive");
}

std::string TransformConfig::str() const {
  std::ostringstream o;
  o << "size " << size << ", scale (" << scale_min << ", " << scale_max << "), ratio (" << ratio_min << ", "
    << ratio_max << "), hflip " << hflip << ", jitter (" << brightness << ", " << contrast << ", " << saturation
    << "), crop_pct " << crop_pct << ", " << (interpolation == Filter::bicubic ? "bicubic" : "bilinear")
    << ", mean (" << mean[0] << ", " << mean[1] << ", " << mean[2] << "), std (" << std[0] << ", " << std[1] << ", "
    << std[2] << ")";
  return o.str();
}

std::string TransformConfig::str(Mode mode) const {
  std::ostringstream o;
  const char* filter = interpolation == Filter::bicubic ? "bicubic" : "bilinear";
  if (mode == Mode::train)
    o << "random resized crop to " << size << " (" << filter << "), scale (" << scale_min << ", " << scale_max
      << "), ratio (" << ratio_min << ", " << ratio_max << "), hflip " << hflip << ", jitter (" << brightness << ", "
      << contrast << ", " << saturation << ")";
  else if (mode == Mode::eval)
    o << "resize the shorter side to " << static_cast<int>(std::floor(size / crop_pct)) << " (" << filter
      << "), center crop " << size << " (crop_pct " << crop_pct << ")";
  else
    o << "largest centered square, resized to " << size << " (" << filter << ")";
  o << ", mean (" << mean[0] << ", " << mean[1] << ", " << mean[2] << "), std (" << std[0] << ", " << std[1] << ", "
    << std[2] << ")";
  return o.str();
}

bool TransformConfig::train_is_center_view() const {
  return scale_min == 1 && scale_max == 1 && ratio_min == 1 && ratio_max == 1 && hflip == 0;
}

Box random_resized_crop_box(int width, int height, double scale_min, double scale_max, double ratio_min,
                            double ratio_max, const SampleRng& rng) {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    uint64_t d = kWordCrop + 4 * attempt;
    double target_area = area * rng.uniform(d, scale_min, scale_max);
    double aspect = std::exp(rng.uniform(d + 1, log_lo, log_hi));
    int w = py_round(std::sqrt(target_area * aspect));
    int h = py_round(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      int top = static_cast<int>(rng.randint(d + 2, height - h + 1));
      int left = static_cast<int>(rng.randint(d + 3, width - w + 1));
      return Box{double(left), double(top), double(left + w), double(top + h)};
    }
  }
  // Fallback: the whole image, clamped to the ratio range, centered.
  double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) h = py_round(w / ratio_min);
  else if (in_ratio > ratio_max) w = py_round(h * ratio_max);
  int top = (height - h) / 2, left = (width - w) / 2;
  return Box{double(left), double(top), double(left + w), double(top + h)};
}

Box eval_box(int width, int height, int size, double crop_pct) {
  int scale_size = static_cast<int>(std::floor(size / crop_pct));  // timm
  // torchvision Resize(int): the shorter side becomes scale_size, the longer
  // one int(scale_size * long / short).
  bool w_short = width <= height;
  int s = w_short ? width : height, l = w_short ? height : width;
  int new_l = static_cast<int>(static_cast<double>(scale_size) * l / s);
  int new_w = w_short ? scale_size : new_l, new_h = w_short ? new_l : scale_size;
  // CenterCrop: offsets int(round((resized - size) / 2)), in resized pixels.
  int top = py_round((new_h - size) / 2.0), left = py_round((new_w - size) / 2.0);
  double sx = static_cast<double>(width) / new_w, sy = static_cast<double>(height) / new_h;
  return Box{left * sx, top * sy, (left + size) * sx, (top + size) * sy};
}

Box center_box(int width, int height) {
  int side = std::min(width, height);
  int left = (width - side) / 2, top = (height - side) / 2;
  return Box{double(left), double(top), double(left + side), double(top + side)};
}

Jitter draw_jitter(const TransformConfig& cfg, const SampleRng& rng) {
  Jitter j;
  // torchvision: a random order (randperm), then each factor uniform in [max(0, 1 - v), 1 + v].
  for (int i = 2; i > 0; --i) std::swap(j.order[i], j.order[rng.randint(kWordJitter + i, i + 1)]);
  auto factor = [&](float v, uint64_t word) {
    return v > 0 ? static_cast<float>(rng.uniform(word, std::max(0.0, 1.0 - v), 1.0 + v)) : 1.0f;
  };
  j.brightness = factor(cfg.brightness, kWordJitter + 3);
  j.contrast = factor(cfg.contrast, kWordJitter + 4);
  j.saturation = factor(cfg.saturation, kWordJitter + 5);
  return j;
}

Plan plan(const TransformConfig& cfg, Mode mode, int src_w, int src_h, const SampleRng& rng) {
  Plan p;
  p.view.src_w = src_w;
  p.view.src_h = src_h;
  if (mode == Mode::train && cfg.train_is_center_view()) {
    // torchvision would move a W = H +- 1 image's square by one pixel at random
    // (see transforms.h); the exact center view keeps tokens aligned.
    p.view.box = center_box(src_w, src_h);
    p.jitter = draw_jitter(cfg, rng);
  } else if (mode == Mode::train) {
    p.view.box = random_resized_crop_box(src_w, src_h, cfg.scale_min, cfg.scale_max, cfg.ratio_min, cfg.ratio_max, rng);
    p.view.flip = cfg.hflip > 0 && rng.uniform(kWordFlip) < cfg.hflip;
    p.jitter = draw_jitter(cfg, rng);
  } else if (mode == Mode::eval) {
    p.view.box = eval_box(src_w, src_h, cfg.size, cfg.crop_pct);
  } else {
    p.view.box = center_box(src_w, src_h);
  }
  return p;
}

Image render_view(const Image& img, const View& view, int denom, int size, Filter f) {
  const Box& b = view.box;
  Box scaled{b.x0 / denom, b.y0 / denom, b.x1 / denom, b.y1 / denom};
  return resample(img, scaled, size, size, f);
}

View transform_jpeg(const uint8_t* data, size_t n, const std::string& path, const TransformConfig& cfg, Mode mode,
                    const SampleRng& rng, float* out) {
  JpegInfo info = read_jpeg_info(data, n, path);
  Plan p = plan(cfg, mode, info.width, info.height, rng);
  int denom = cfg.dct_scaling ? pick_dct_denominator(p.view.box.width(), p.view.box.height(), cfg.size, cfg.size) : 1;
  thread_local Image decoded, rendered;  // per-thread buffers: no fresh pages per image
  const Box& b = p.view.box;
  Box box{b.x0 / denom, b.y0 / denom, b.x1 / denom, b.y1 / denom};  // in the decoded image
  const int w = (info.width + denom - 1) / denom, h = (info.height + denom - 1) / denom;
  // torchvision's RandomResizedCrop (and so the center view, its scale (1, 1)
  // case) crops and then resizes: the filter's taps stop at the crop's edges.
  // Eval resizes the whole image and then crops: taps reach past the crop.
  // Either way only the pixels the resize reads are needed.
  Region need;
  if (mode == Mode::eval) {
    auto [x0, x1] = resample_source_range(w, box.x0, box.x1, cfg.size, cfg.interpolation);
    auto [y0, y1] = resample_source_range(h, box.y0, box.y1, cfg.size, cfg.interpolation);
    need = Region{x0, y0, x1, y1};
  } else {  // whole pixels; a DCT-scaled box may have fractional edges
    need = Region{static_cast<int>(std::floor(box.x0)), static_cast<int>(std::floor(box.y0)),
                  std::min(static_cast<int>(std::ceil(box.x1)), w), std::min(static_cast<int>(std::ceil(box.y1)), h)};
  }
  Region got{0, 0, w, h};
  if (cfg.region_decode)  // rows are exactly `need`'s; columns may be wider
    got = decode_jpeg_region_into(data, n, path, denom, need, decoded, cfg.fast_decode);
  else
    decode_jpeg_into(data, n, path, denom, decoded);
  const ImageView view = ImageView(decoded).crop(need.x0 - got.x0, need.y0 - got.y0, need.x1 - got.x0, need.y1 - got.y0);
  box = Box{box.x0 - need.x0, box.y0 - need.y0, box.x1 - need.x0, box.y1 - need.y0};
  resample_into(view, box, cfg.size, cfg.size, cfg.interpolation, rendered);
  to_normalized_chw(rendered, p.view.flip, p.jitter, cfg.mean, cfg.std, out);
  return p.view;
}

}  // namespace mapet::data
