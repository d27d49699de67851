// Patch features: what a tokenizer clusters and assigns. Each extractor says
// how the loader must present an image (the center view at some size, with
// some normalisation) and turns a batch of such images into one feature
// vector per patch, patches in row-major order (the ViT's patch order).
#pragma once
#include <memory>
#include <string>

#include "data/loader.h"
#include "data/transforms.h"
#include "engine/tensor.h"

namespace mapet::tokenizer {

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  // One line for logs and for the files that record how tokens were made.
  virtual std::string describe() const = 0;
  // The loader's transform: the center view (data::Mode::center) at this size and normalisation.
  virtual data::TransformConfig transform() const = 0;
  virtual int64_t grid() const = 0;  // patches per side: P = grid^2 tokens per image
  virtual int64_t dim() const = 0;   // feature dimension D
  // images f32 [B, 3, S, S] on the CPU, as transform() makes them -> f32 [B, P, D] on the CPU. An extractor
  // made for Device::cuda copies the images there, extracts there and copies the features back (k-means and the
  // nearest-centroid assignment run on the CPU).
  virtual Tensor features(const Tensor& images) const = 0;
  int64_t tokens_per_image() const { return grid() * grid(); }
};

// Raw normalised pixels of each patch: D = 3 * patch^2, P = (input_size / patch)^2.
// Needs no weights (demos and tests). mean/std: the normalisation (ImageNet's by default).
std::unique_ptr<FeatureExtractor> pixel_features(int64_t input_size, int64_t patch,
                                                 const data::Rgb& mean = data::kImagenetMean,
                                                 const data::Rgb& std = data::kImagenetStd, Device device = Device::cpu);

// CLIP image-encoder features from OpenAI weights in safetensors: a ResNet
// (RN50 ... RN50x64: the image is read at grid * 32 pixels, one feature per
// 32 pixels) or a ViT (read at its own resolution, whose grid must be `grid`).
// grid: patches per side of the pre-training view (224 / 16 = 14). Images are
// the center view, bicubic, CLIP's normalisation. On Device::cuda: the ResNets (cuDNN convolutions on a GPU);
// the ViTs run on the CPU only (their QuickGELU has no CUDA kernel yet: an Error says so).
std::unique_ptr<FeatureExtractor> clip_features(const std::string& weights_path, int64_t grid,
                                                Device device = Device::cpu);

// Loader settings that present a dataset in order, each image once, as fx
// wants it (the center view: tokens are made on it, see data/README.md).
data::LoaderOptions feature_loader_options(const FeatureExtractor& fx, int batch_size, int workers, bool quiet);

}  // namespace mapet::tokenizer
