// Image transforms with timm / torchvision semantics, on decoded JPEGs.
//
// train: RandomResizedCrop(size, scale, ratio, interpolation) -> horizontal flip
//        with probability hflip -> ColorJitter(brightness, contrast, saturation)
//        -> ToTensor -> Normalize(mean, std)       (timm's train transform)
// eval:  Resize(floor(size / crop_pct)) of the shorter side -> CenterCrop(size)
//        -> ToTensor -> Normalize                  (timm's eval transform)
// center: the largest centered square resized to size; no flip, no jitter. This
//        is the view on which visual tokens are computed, and what train gives
//        with scale (1, 1), ratio (1, 1), hflip 0 (the MaPeT pre-training
//        config): torchvision's RandomResizedCrop then always falls back to the
//        centered square, except for images whose sides differ by exactly one
//        pixel, where it places the square 0 or 1 pixel off center at random;
//        we take the center there too, so tokens stay exactly aligned.
//
// Each geometry is a View: the region of the original image (in its pixels)
// that becomes the output, and a flip flag. As in torchvision, train and the
// center view crop that region and resize it (the filter stops at the crop's
// edges), eval resizes the whole image and crops (the filter reads pixels
// just outside the region); the resize is PIL's, bit for bit (resample.h),
// reading the decoded pixels in place (no crop copy). Only the part of the
// JPEG that the resize reads is decoded (jpeg_region.h); when the region
// is at least twice the output in both directions, the JPEG is decoded at 1/2,
// 1/4 or 1/8 scale first (libjpeg's DCT scaling) and the box scaled with it.
// Random draws come from SampleRng(seed, epoch, index): deterministic per sample.
#pragma once
#include "kernels/cpu/isa.h"
#include <array>
#include <cstdint>
#include <string>

#include "data/image.h"
#include "data/resample.h"
#include "data/sample_rng.h"

namespace mapet::data {

using Rgb = std::array<float, 3>;
inline constexpr Rgb kImagenetMean{0.485f, 0.456f, 0.406f}, kImagenetStd{0.229f, 0.224f, 0.225f};
inline constexpr Rgb kClipMean{0.48145466f, 0.4578275f, 0.40821073f}, kClipStd{0.26862954f, 0.26130258f, 0.27577711f};

enum class Mode { train, eval, center };

struct TransformConfig {
  int size = 224;
  // train
  double scale_min = 0.08, scale_max = 1.0;          // fraction of the image area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // width / height
  double hflip = 0.5;                                 // probability; 0 disables
  float brightness = 0, contrast = 0, saturation = 0; // torchvision ColorJitter strengths
  // eval
  double crop_pct = 0.9;
  // both
  Filter interpolation = Filter::bicubic;
  Rgb mean = kImagenetMean, std = kImagenetStd;
  bool dct_scaling = true;  // decode at 1/2..1/8 when the output is that much smaller
  bool region_decode = true;  // decode only the rows and columns the resize reads (jpeg_region.h)
  bool fast_decode = false;    // fast IDCT and chroma upsampling (region decoding only; see jpeg_region.h)

  void validate() const;  // throws Error naming the bad setting
  std::string str() const;           // every setting
  std::string str(Mode mode) const;  // what `mode` does, in words (only the settings it uses)
  // True when train views are always the center view: visual tokens computed on
  // the center view then stay aligned with the patches.
  bool train_is_center_view() const;
};

// What happened to one image: region `box` of the original src_w x src_h image
// (pixel edges) became the size x size output, mirrored left-right if flip.
struct View {
  int src_w = 0, src_h = 0;
  Box box;
  bool flip = false;
};

// Colour jitter factors (1 = unchanged) and the order they are applied in
// (0 brightness, 1 contrast, 2 saturation), drawn as torchvision does.
struct Jitter {
  float brightness = 1, contrast = 1, saturation = 1;
  std::array<int, 3> order{0, 1, 2};
  bool active() const { return brightness != 1 || contrast != 1 || saturation != 1; }
};

// torchvision RandomResizedCrop.get_params: 10 tries of (area, log-uniform
// ratio), then the fallback central crop clamped to the ratio range.
Box random_resized_crop_box(int w, int h, double scale_min, double scale_max, double ratio_min, double ratio_max,
                            const SampleRng& rng);
// timm eval: the region that Resize(floor(size / crop_pct)) + CenterCrop(size) shows.
Box eval_box(int w, int h, int size, double crop_pct);
// The largest centered square.
Box center_box(int w, int h);
Jitter draw_jitter(const TransformConfig& cfg, const SampleRng& rng);

// The geometry and jitter of one sample (no pixels needed, only the size).
struct Plan {
  View view;
  Jitter jitter;
};
Plan plan(const TransformConfig& cfg, Mode mode, int src_w, int src_h, const SampleRng& rng);

// Resamples view.box of img (img may be a 1/denom-scaled decode of the
// original) to size x size, as u8 like PIL's resize.
Image render_view(const Image& img, const View& view, int denom, int size, Filter f);

// ToTensor + ColorJitter + Normalize (+ the flip): u8 HWC -> f32 CHW.
// (data/normalize.cpp, one version per instruction-set level.)
MAPET_ISA_FUNCTION(void, to_normalized_chw,
                   (const Image& img, bool flip, const Jitter& jitter, const Rgb& mean, const Rgb& std, float* out),
                   (img, flip, jitter, mean, std, out))

// Everything: decode (with DCT scaling where it applies), plan, render,
// normalise into out (3 x size x size). Throws Error naming `path` for a bad file.
View transform_jpeg(const uint8_t* data, size_t n, const std::string& path, const TransformConfig& cfg, Mode mode,
                    const SampleRng& rng, float* out);

}  // namespace mapet::data
