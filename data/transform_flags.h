// The transform and loader flags of the CLI (timm's names), shared by every
// command that reads images: `--img-size --scale --ratio --hflip
// --color-jitter --interpolation --crop-pct --mean --std --norm`. Header-only,
// for apps/ (data/ itself does not use CLI11).
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "data/transforms.h"
#include "engine/tensor.h"

namespace mapet::data {

struct TransformFlags {
  TransformConfig cfg;
  std::vector<double> scale{0.08, 1.0}, ratio{3.0 / 4.0, 4.0 / 3.0};
  std::vector<float> color_jitter;  // one value (all three) or brightness, contrast, saturation
  std::vector<float> mean, std;
  std::string interpolation = "bicubic", norm = "imagenet";

  void add_to(CLI::App* c) {
    c->add_option("--img-size", cfg.size, "Output image size (square)")->capture_default_str();
    c->add_option("--scale", scale, "RandomResizedCrop area range, e.g. 0.08 1 (MaPeT pre-training: 1 1)")
        ->expected(2)->capture_default_str();
    c->add_option("--ratio", ratio, "RandomResizedCrop aspect range (MaPeT pre-training: 1 1)")->expected(2)->capture_default_str();
    c->add_option("--hflip", cfg.hflip, "Horizontal flip probability (0: off)")->capture_default_str();
    c->add_option("--color-jitter", color_jitter, "Brightness, contrast, saturation strength (one value or three)")
        ->expected(1, 3);
    c->add_option("--interpolation", interpolation, "bicubic or bilinear")
        ->check(CLI::IsMember({"bicubic", "bilinear"}))->capture_default_str();
    c->add_option("--crop-pct", cfg.crop_pct, "Eval: resize to img_size / crop_pct, then center crop")->capture_default_str();
    c->add_option("--norm", norm, "Mean/std preset: imagenet or clip")->check(CLI::IsMember({"imagenet", "clip"}))->capture_default_str();
    c->add_option("--mean", mean, "Per-channel mean (overrides --norm)")->expected(3);
    c->add_option("--std", std, "Per-channel std (overrides --norm)")->expected(3);
    c->add_flag("!--no-dct-scaling", cfg.dct_scaling, "Always decode JPEGs at full size");
    c->add_flag("--fast-decode", cfg.fast_decode, "Fast IDCT and chroma upsampling (~20% cheaper decoding, pixels a level or two off)");
  }

  // Call after parsing.
  TransformConfig config() const {
    TransformConfig t = cfg;
    t.scale_min = scale[0], t.scale_max = scale[1];
    t.ratio_min = ratio[0], t.ratio_max = ratio[1];
    if (color_jitter.size() == 1) t.brightness = t.contrast = t.saturation = color_jitter[0];
    if (color_jitter.size() == 3) t.brightness = color_jitter[0], t.contrast = color_jitter[1], t.saturation = color_jitter[2];
    if (color_jitter.size() == 2) throw Error("--color-jitter takes one value or three, got two");
    t.interpolation = interpolation == "bilinear" ? Filter::bilinear : Filter::bicubic;
    if (norm == "clip") t.mean = kClipMean, t.std = kClipStd;
    if (mean.size() == 3) t.mean = {mean[0], mean[1], mean[2]};
    if (std.size() == 3) t.std = {std[0], std[1], std[2]};
    t.validate();
    return t;
  }
};

}  // namespace mapet::data
