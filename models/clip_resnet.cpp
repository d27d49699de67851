#include "models/clip_resnet.h"

#include <cmath>

#include "engine/rng.h"

namespace mapet::models {

namespace {

constexpr double kBatchNormEps = 1e-5;  // PyTorch's BatchNorm2d default, which CLIP keeps

std::string stage(int64_t s) { return "visual.layer" + std::to_string(s + 1) + "."; }

// A bias-free convolution followed by an eval-mode batch norm is one
// convolution: weight * s and bias beta - mean * s, s = gamma / sqrt(var + eps).
ops::Conv2d conv_bn(const ClipWeights& w, const std::string& conv, const std::string& bn, int64_t c_in, int64_t c_out,
                    int64_t k, int64_t stride, bool relu, Device device) {
  Tensor weight = w.get(conv + ".weight", {c_out, c_in, k, k});
  Tensor gamma = w.get(bn + ".weight", {c_out}), beta = w.get(bn + ".bias", {c_out});
  Tensor mean = w.get(bn + ".running_mean", {c_out}), var = w.get(bn + ".running_var", {c_out});
  Tensor folded = Tensor::empty(weight.shape()), bias = Tensor::empty({c_out});
  const float* wp = weight.data<float>();
  float* fp = folded.data<float>();
  const int64_t per_out = c_in * k * k;
  for (int64_t o = 0; o < c_out; ++o) {
    const double v = var.data<float>()[o];
    if (!(v >= 0.0)) throw Error("CLIP weights " + w.what() + ": '" + bn + ".running_var' has a negative or NaN entry");
    const double s = gamma.data<float>()[o] / std::sqrt(v + kBatchNormEps);
    for (int64_t i = 0; i < per_out; ++i) fp[o * per_out + i] = static_cast<float>(wp[o * per_out + i] * s);
    bias.data<float>()[o] = static_cast<float>(beta.data<float>()[o] - mean.data<float>()[o] * s);
  }
  return ops::Conv2d(folded, bias, stride, k / 2, relu, conv, device);
}

}  // namespace

ClipResNetConfig clip_resnet_config(const std::string& name) {
  ClipResNetConfig c;
  c.name = name;
  if (name == "RN50") c.layers = {3, 4, 6, 3}, c.width = 64, c.image_resolution = 224;
  else if (name == "RN101") c.layers = {3, 4, 23, 3}, c.width = 64, c.image_resolution = 224;
  else if (name == "RN50x4") c.layers = {4, 6, 10, 6}, c.width = 80, c.image_resolution = 288;
  else if (name == "RN50x16") c.layers = {6, 8, 18, 8}, c.width = 96, c.image_resolution = 384;
  else if (name == "RN50x64") c.layers = {3, 15, 36, 10}, c.width = 128, c.image_resolution = 448;
  else throw Error("unknown CLIP ResNet '" + name + "' (known: RN50, RN101, RN50x4, RN50x16, RN50x64)");
  return c;
}

ClipResNetConfig clip_resnet_config_from(const ClipWeights& w) {
  ClipResNetConfig c;
  const Tensor& conv1 = w.get("visual.conv1.weight");
  if (conv1.dim() != 4 || conv1.size(1) != 3 || conv1.size(2) != 3)
    throw Error("CLIP weights " + w.what() + ": 'visual.conv1.weight' " + conv1.str() +
                " is not a ResNet stem convolution [width/2, 3, 3, 3]");
  c.width = conv1.size(0) * 2;
  for (int64_t s = 0; s < 4; ++s) {
    c.layers[s] = w.count_indexed(stage(s));
    if (c.layers[s] == 0) throw Error("CLIP weights " + w.what() + ": no block '" + stage(s) + "0.*' (not a CLIP ResNet?)");
  }
  c.name = "custom";
  for (const char* known : {"RN50", "RN101", "RN50x4", "RN50x16", "RN50x64"}) {
    ClipResNetConfig k = clip_resnet_config(known);
    if (k.layers == c.layers && k.width == c.width) c = k;
  }
  if (w.has("visual.attnpool.positional_embedding")) {  // (resolution / 32)^2 + 1 rows
    const int64_t rows = w.tensors().at("visual.attnpool.positional_embedding").size(0);
    c.image_resolution = static_cast<int64_t>(std::lround(std::sqrt(double(rows - 1)))) * ClipResNetConfig::kStride;
  }
  return c;
}

ClipResNet::ClipResNet(const ClipResNetConfig& c, const ClipWeights& w, Device device) : config_(c) {
  const int64_t half = c.width / 2;
  stem_.push_back(conv_bn(w, "visual.conv1", "visual.bn1", 3, half, 3, 2, true, device));
  stem_.push_back(conv_bn(w, "visual.conv2", "visual.bn2", half, half, 3, 1, true, device));
  stem_.push_back(conv_bn(w, "visual.conv3", "visual.bn3", half, c.width, 3, 1, true, device));
  int64_t inplanes = c.width;
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t planes = c.width << s;
    for (int64_t b = 0; b < c.layers[s]; ++b) {
      const std::string p = stage(s) + std::to_string(b) + ".";
      Bottleneck blk;
      blk.stride = (s > 0 && b == 0) ? 2 : 1;
      blk.convs.push_back(conv_bn(w, p + "conv1", p + "bn1", inplanes, planes, 1, 1, true, device));
      blk.convs.push_back(conv_bn(w, p + "conv2", p + "bn2", planes, planes, 3, 1, true, device));
      blk.convs.push_back(conv_bn(w, p + "conv3", p + "bn3", planes, planes * 4, 1, 1, false, device));
      if (blk.stride > 1 || inplanes != planes * 4)
        blk.down.push_back(conv_bn(w, p + "downsample.0", p + "downsample.1", inplanes, planes * 4, 1, 1, false, device));
      blocks_.push_back(std::move(blk));
      inplanes = planes * 4;
    }
  }
}

Tensor ClipResNet::features(const Tensor& images) const {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) % ClipResNetConfig::kStride != 0 ||
      images.size(3) % ClipResNetConfig::kStride != 0 || images.size(2) == 0 || images.size(3) == 0)
    throw Error("CLIP " + config_.name + ": expected images [B, 3, H, W] with H and W multiples of 32, got " +
                images.str());
  Tensor x = ops::nchw_to_nhwc(images);
  for (const ops::Conv2d& conv : stem_) x = conv.forward(x);
  x = ops::avg_pool2d_nhwc(x, 2);
  for (const Bottleneck& b : blocks_) {
    Tensor out = b.convs[1].forward(b.convs[0].forward(x));
    if (b.stride > 1) out = ops::avg_pool2d_nhwc(out, b.stride);
    out = b.convs[2].forward(out);
    Tensor shortcut = x;
    if (!b.down.empty()) shortcut = b.down[0].forward(b.stride > 1 ? ops::avg_pool2d_nhwc(x, b.stride) : x);
    ops::add_relu_(out, shortcut);
    x = out;
  }
  return x;
}

io::TensorMap random_clip_resnet_weights(const ClipResNetConfig& c, uint64_t seed) {
  Generator g(seed);
  io::TensorMap m;
  auto conv = [&](const std::string& name, int64_t c_in, int64_t c_out, int64_t k) {
    Tensor t = Tensor::empty({c_out, c_in, k, k});
    g.normal_(t, 0.0f, std::sqrt(2.0f / static_cast<float>(c_in * k * k)));  // He: activations stay O(1)
    m[name + ".weight"] = t;
  };
  auto bn = [&](const std::string& name, int64_t ch, float gamma) {
    Tensor w = Tensor::empty({ch}), b = Tensor::empty({ch}), mean = Tensor::empty({ch}), var = Tensor::empty({ch});
    g.normal_(w, gamma, 0.1f * gamma);
    g.normal_(b, 0.0f, 0.1f);
    g.normal_(mean, 0.0f, 0.1f);
    g.uniform_(var, 0.5f, 1.5f);
    m[name + ".weight"] = w, m[name + ".bias"] = b, m[name + ".running_mean"] = mean, m[name + ".running_var"] = var;
    m[name + ".num_batches_tracked"] = Tensor::zeros({}, DType::i64);
  };
  const int64_t half = c.width / 2;
  conv("visual.conv1", 3, half, 3), bn("visual.bn1", half, 1.0f);
  conv("visual.conv2", half, half, 3), bn("visual.bn2", half, 1.0f);
  conv("visual.conv3", half, c.width, 3), bn("visual.bn3", c.width, 1.0f);
  int64_t inplanes = c.width;
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t planes = c.width << s;
    for (int64_t b = 0; b < c.layers[s]; ++b) {
      const std::string p = stage(s) + std::to_string(b) + ".";
      conv(p + "conv1", inplanes, planes, 1), bn(p + "bn1", planes, 1.0f);
      conv(p + "conv2", planes, planes, 3), bn(p + "bn2", planes, 1.0f);
      // A small last gamma keeps deep random stacks from growing without bound.
      conv(p + "conv3", planes, planes * 4, 1), bn(p + "bn3", planes * 4, 0.3f);
      if ((s > 0 && b == 0) || inplanes != planes * 4)
        conv(p + "downsample.0", inplanes, planes * 4, 1), bn(p + "downsample.1", planes * 4, 1.0f);
      inplanes = planes * 4;
    }
  }
  return m;
}

}  // namespace mapet::models
