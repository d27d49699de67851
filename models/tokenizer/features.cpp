#include "models/tokenizer/features.h"

#include "engine/ops/patch_embed.h"
#include "models/clip_resnet.h"
#include "models/clip_vit.h"

namespace mapet::tokenizer {

namespace {

data::TransformConfig center_view(int64_t size, const data::Rgb& mean, const data::Rgb& std) {
  data::TransformConfig t;
  t.size = static_cast<int>(size);
  t.mean = mean, t.std = std;
  t.interpolation = data::Filter::bicubic;
  return t;
}

class PixelFeatures : public FeatureExtractor {
 public:
  PixelFeatures(int64_t size, int64_t patch, const data::Rgb& mean, const data::Rgb& std, Device device)
      : size_(size), patch_(patch), t_(center_view(size, mean, std)), device_(device) {}
  std::string describe() const override {
    return "pixel: " + std::to_string(patch_) + "x" + std::to_string(patch_) + " patches of the " +
           std::to_string(size_) + "x" + std::to_string(size_) + " center view, normalised, mean " +
           std::to_string(t_.mean[0]) + "," + std::to_string(t_.mean[1]) + "," + std::to_string(t_.mean[2]) + " std " +
           std::to_string(t_.std[0]) + "," + std::to_string(t_.std[1]) + "," + std::to_string(t_.std[2]);
  }
  data::TransformConfig transform() const override { return t_; }
  int64_t grid() const override { return size_ / patch_; }
  int64_t dim() const override { return 3 * patch_ * patch_; }
  Tensor features(const Tensor& images) const override {
    return ops::patchify(images.to(device_), patch_).to(Device::cpu);
  }

 private:
  int64_t size_, patch_;
  data::TransformConfig t_;
  Device device_;
};

class ClipResNetFeatures : public FeatureExtractor {
 public:
  ClipResNetFeatures(const models::ClipWeights& w, int64_t grid, std::string source, Device device)
      : net_(models::clip_resnet_config_from(w), w, device), grid_(grid), source_(std::move(source)), device_(device) {}
  std::string describe() const override {
    return "clip " + net_.config().name + " (" + source_ + "): last residual stage, " +
           std::to_string(grid_ * models::ClipResNetConfig::kStride) + "x" +
           std::to_string(grid_ * models::ClipResNetConfig::kStride) + " center view, bicubic, CLIP normalisation";
  }
  data::TransformConfig transform() const override {
    return center_view(grid_ * models::ClipResNetConfig::kStride, data::kClipMean, data::kClipStd);
  }
  int64_t grid() const override { return grid_; }
  int64_t dim() const override { return net_.config().feature_dim(); }
  Tensor features(const Tensor& images) const override {
    Tensor f = net_.features(images.to(device_)).to(Device::cpu);  // NHWC [B, grid, grid, D]
    return f.view({f.size(0), grid_ * grid_, f.size(3)});
  }

 private:
  models::ClipResNet net_;
  int64_t grid_;
  std::string source_;
  Device device_;
};

class ClipVitFeatures : public FeatureExtractor {
 public:
  ClipVitFeatures(const models::ClipWeights& w, std::string source)
      : vit_(models::clip_vit_config_from(w), w), source_(std::move(source)) {}
  std::string describe() const override {
    const int64_t r = vit_.config().image_resolution;
    return "clip " + vit_.config().name + " (" + source_ + "): patch tokens through ln_post and proj, " +
           std::to_string(r) + "x" + std::to_string(r) + " center view, bicubic, CLIP normalisation";
  }
  data::TransformConfig transform() const override {
    return center_view(vit_.config().image_resolution, data::kClipMean, data::kClipStd);
  }
  int64_t grid() const override { return vit_.config().grid(); }
  int64_t dim() const override { return vit_.config().output_dim; }
  Tensor features(const Tensor& images) const override { return vit_.features(images); }

 private:
  models::ClipViT vit_;
  std::string source_;
};

}  // namespace

std::unique_ptr<FeatureExtractor> pixel_features(int64_t input_size, int64_t patch, const data::Rgb& mean,
                                                 const data::Rgb& std, Device device) {
  if (patch < 1 || input_size < patch || input_size % patch != 0)
    throw Error("pixel tokenizer: --input-size " + std::to_string(input_size) + " must be a positive multiple of --patch-size " +
                std::to_string(patch));
  return std::make_unique<PixelFeatures>(input_size, patch, mean, std, device);
}

std::unique_ptr<FeatureExtractor> clip_features(const std::string& weights_path, int64_t grid, Device device) {
  if (weights_path.empty()) throw Error("the kclip tokenizer needs --weights CLIP.safetensors (see tools/convert_clip.py)");
  models::ClipWeights w = models::ClipWeights::load(weights_path);
  if (w.has("visual.layer1.0.conv1.weight")) return std::make_unique<ClipResNetFeatures>(w, grid, weights_path, device);
  if (w.has("visual.transformer.resblocks.0.attn.in_proj_weight")) {
    if (device != Device::cpu)
      throw Error("CLIP weights '" + weights_path + "' are a ViT, whose encoder runs on the CPU only (its QuickGELU has "
                  "no CUDA kernel yet): tokenize with --device cpu, or with a CLIP ResNet on the device");
    auto f = std::make_unique<ClipVitFeatures>(w, weights_path);
    if (f->grid() != grid)
      throw Error("CLIP weights '" + weights_path + "' are a ViT with a " + std::to_string(f->grid()) + "x" +
                  std::to_string(f->grid()) + " patch grid, but the pre-training view has " + std::to_string(grid) +
                  "x" + std::to_string(grid) + " patches (--input-size / --patch-size)");
    return f;
  }
  throw Error("'" + weights_path + "' holds no CLIP image encoder (no visual.layer1.* nor visual.transformer.*)");
}

data::LoaderOptions feature_loader_options(const FeatureExtractor& fx, int batch_size, int workers, bool quiet) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.mode = data::Mode::center;
  o.transform = fx.transform();
  o.shuffle = false;
  o.drop_last = false;
  o.even_shards = false;
  o.workers = workers;
  o.quiet = quiet;
  return o;
}

}  // namespace mapet::tokenizer
