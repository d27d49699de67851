// CLIP's modified ResNet image encoder (Radford et al., "Learning Transferable
// Visual Models From Natural Language Supervision", 2021), up to the output of
// its last residual stage; the attention pooling that follows is not built.
//
//   stem:  three 3x3 convolutions (the first with stride 2), each with batch
//          norm and ReLU, then a 2x2 average pool
//   stages 1-4: bottleneck blocks (1x1, 3x3, 1x1, expansion 4); a block with
//          stride 2 average-pools before its last 1x1 convolution, and its
//          shortcut is average pool + 1x1 convolution + batch norm
//
// The output of stage 4 is one width*32-dim feature per 32x32 pixels: for
// RN50x64 at 448x448, a 14x14 grid of 4096-dim features, one per 16x16 patch
// of the 224 view. Batch norms are folded into the convolutions at load.
// Weights use OpenAI's names: visual.conv1.weight, visual.bn1.running_mean,
// visual.layer1.0.conv1.weight, visual.layer1.0.downsample.1.weight, ...
#pragma once
#include <array>
#include <string>
#include <vector>

#include "engine/ops/conv2d.h"
#include "models/clip_weights.h"

namespace mapet::models {

struct ClipResNetConfig {
  std::string name = "RN50";
  std::array<int64_t, 4> layers{3, 4, 6, 3};  // bottleneck blocks per stage
  int64_t width = 64;                         // stem output channels
  int64_t image_resolution = 224;             // CLIP's training resolution (the attention pool's grid)
  static constexpr int64_t kStride = 32;      // input pixels per output feature, each way
  int64_t feature_dim() const { return width * 32; }
};

// RN50, RN101, RN50x4, RN50x16, RN50x64 as OpenAI released them.
ClipResNetConfig clip_resnet_config(const std::string& name);
// The configuration the weights describe (blocks per stage, width), as OpenAI's loader infers it.
ClipResNetConfig clip_resnet_config_from(const ClipWeights& w);

class ClipResNet {
 public:
  // The convolutions' weights are prepared for `device` (Device::cuda: cuDNN
  // on a GPU, im2col + GEMM under simt), where features() takes its images.
  ClipResNet(const ClipResNetConfig& c, const ClipWeights& w, Device device = Device::cpu);

  // images f32 [B, 3, H, W] on the encoder's device, CLIP-normalised, H and W
  // multiples of 32 -> features NHWC [B, H/32, W/32, width*32] on that device.
  Tensor features(const Tensor& images) const;
  const ClipResNetConfig& config() const { return config_; }

 private:
  struct Bottleneck {
    std::vector<ops::Conv2d> convs;  // conv1 (+ReLU), conv2 (+ReLU), conv3
    std::vector<ops::Conv2d> down;   // the shortcut's conv, when there is one
    int64_t stride = 1;
  };
  ClipResNetConfig config_;
  std::vector<ops::Conv2d> stem_;
  std::vector<Bottleneck> blocks_;
};

// Random weights with OpenAI's names and shapes (batch-norm statistics
// included), for tests, benchmarks and demos that have no CLIP checkpoint.
io::TensorMap random_clip_resnet_weights(const ClipResNetConfig& c, uint64_t seed);

}  // namespace mapet::models
