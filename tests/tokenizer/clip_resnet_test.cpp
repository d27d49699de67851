// CLIP's modified ResNet (small configurations, random weights) against a
// float64 reference written from the architecture: direct convolutions, batch
// norm applied as such (not folded), average pools, bottleneck joins.
#include "models/clip_resnet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/test_util.h"

namespace mapet::models {
namespace {

// A float64 NCHW feature map.
struct Map {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<double> v;
  double& at(int64_t b, int64_t ch, int64_t y, int64_t x) { return v[((b * c + ch) * h + y) * w + x]; }
  double at(int64_t b, int64_t ch, int64_t y, int64_t x) const { return v[((b * c + ch) * h + y) * w + x]; }
};

Map make(int64_t n, int64_t c, int64_t h, int64_t w) { return Map{n, c, h, w, std::vector<double>(n * c * h * w, 0.0)}; }

const Tensor& get(const io::TensorMap& m, const std::string& name) { return m.at(name); }

Map conv(const Map& x, const Tensor& wt, int64_t stride, int64_t pad) {
  const int64_t co = wt.size(0), k = wt.size(2);
  Map y = make(x.n, co, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
  std::vector<float> w = wt.to_vector();
  for (int64_t b = 0; b < x.n; ++b)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t oy = 0; oy < y.h; ++oy)
        for (int64_t ox = 0; ox < y.w; ++ox) {
          double s = 0;
          for (int64_t i = 0; i < x.c; ++i)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w) s += x.at(b, i, iy, ix) * w[((o * x.c + i) * k + ky) * k + kx];
              }
          y.at(b, o, oy, ox) = s;
        }
  return y;
}

Map batch_norm(Map x, const io::TensorMap& m, const std::string& p) {
  std::vector<float> g = get(m, p + ".weight").to_vector(), b = get(m, p + ".bias").to_vector(),
                     mu = get(m, p + ".running_mean").to_vector(), var = get(m, p + ".running_var").to_vector();
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t i = 0; i < x.h * x.w; ++i) {
        double& v = x.v[(n * x.c + c) * x.h * x.w + i];
        v = (v - mu[c]) / std::sqrt(double(var[c]) + 1e-5) * g[c] + b[c];
      }
  return x;
}

Map relu(Map x) {
  for (double& v : x.v) v = std::max(v, 0.0);
  return x;
}

Map avg_pool(const Map& x, int64_t k) {
  Map y = make(x.n, x.c, x.h / k, x.w / k);
  for (int64_t b = 0; b < x.n; ++b)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t oy = 0; oy < y.h; ++oy)
        for (int64_t ox = 0; ox < y.w; ++ox) {
          double s = 0;
          for (int64_t dy = 0; dy < k; ++dy)
            for (int64_t dx = 0; dx < k; ++dx) s += x.at(b, c, oy * k + dy, ox * k + dx);
          y.at(b, c, oy, ox) = s / double(k * k);
        }
  return y;
}

Map reference_features(const ClipResNetConfig& c, const io::TensorMap& m, const Tensor& images) {
  Map x = make(images.size(0), 3, images.size(2), images.size(3));
  std::vector<float> px = images.to_vector();
  x.v.assign(px.begin(), px.end());
  x = relu(batch_norm(conv(x, get(m, "visual.conv1.weight"), 2, 1), m, "visual.bn1"));
  x = relu(batch_norm(conv(x, get(m, "visual.conv2.weight"), 1, 1), m, "visual.bn2"));
  x = relu(batch_norm(conv(x, get(m, "visual.conv3.weight"), 1, 1), m, "visual.bn3"));
  x = avg_pool(x, 2);
  for (int64_t s = 0; s < 4; ++s)
    for (int64_t b = 0; b < c.layers[s]; ++b) {
      const std::string p = "visual.layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      Map out = relu(batch_norm(conv(x, get(m, p + "conv1.weight"), 1, 0), m, p + "bn1"));
      out = relu(batch_norm(conv(out, get(m, p + "conv2.weight"), 1, 1), m, p + "bn2"));
      if (stride > 1) out = avg_pool(out, stride);
      out = batch_norm(conv(out, get(m, p + "conv3.weight"), 1, 0), m, p + "bn3");
      Map id = x;
      if (m.count(p + "downsample.0.weight"))
        id = batch_norm(conv(stride > 1 ? avg_pool(x, stride) : x, get(m, p + "downsample.0.weight"), 1, 0), m,
                        p + "downsample.1");
      for (size_t i = 0; i < out.v.size(); ++i) out.v[i] = std::max(out.v[i] + id.v[i], 0.0);
      x = out;
    }
  return x;
}

TEST(ClipResNet, MatchesUnfoldedFloat64Reference) {
  ClipResNetConfig c;
  c.name = "tiny";
  c.layers = {2, 1, 1, 2};
  c.width = 8;
  io::TensorMap m = random_clip_resnet_weights(c, 3);
  // What a converted full CLIP checkpoint also holds: the attention pool, the text tower.
  m["visual.attnpool.positional_embedding"] = test::randn({5, c.feature_dim()}, 4);
  m["token_embedding.weight"] = test::randn({10, 4}, 5);
  ClipWeights w(m, "test weights");
  ClipResNet net(c, w);
  Tensor images = test::randn({2, 3, 64, 96}, 6);
  Tensor f = net.features(images);
  ASSERT_EQ(f.shape(), (Shape{2, 2, 3, 256}));  // NHWC, 64/32 x 96/32, width * 32
  Map want = reference_features(c, m, images);
  ASSERT_EQ(want.c, 256);
  std::vector<double> want_nhwc;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t y = 0; y < 2; ++y)
      for (int64_t x = 0; x < 3; ++x)
        for (int64_t ch = 0; ch < 256; ++ch) want_nhwc.push_back(want.at(b, ch, y, x));
  double mean_abs = 0;
  for (double v : want_nhwc) mean_abs += std::abs(v) / double(want_nhwc.size());
  EXPECT_GT(mean_abs, 0.05);  // the random network does not collapse to zeros
  EXPECT_TRUE(test::all_close(f, want_nhwc, 1e-4, 1e-4 * mean_abs));
}

TEST(ClipResNet, ConfigurationsAndWhatTheWeightsSay) {
  EXPECT_EQ(clip_resnet_config("RN50x64").feature_dim(), 4096);
  EXPECT_EQ(clip_resnet_config("RN50x64").image_resolution, 448);
  EXPECT_EQ(clip_resnet_config("RN50").feature_dim(), 2048);
  EXPECT_EQ(clip_resnet_config("RN101").layers[2], 23);
  EXPECT_EQ(clip_resnet_config("RN50x4").width, 80);
  EXPECT_EQ(clip_resnet_config("RN50x16").layers, (std::array<int64_t, 4>{6, 8, 18, 8}));
  EXPECT_THROW(clip_resnet_config("RN18"), Error);

  ClipResNetConfig c;
  c.layers = {1, 2, 1, 1};
  c.width = 16;
  io::TensorMap m = random_clip_resnet_weights(c, 1);
  m["visual.attnpool.positional_embedding"] = test::randn({50, c.feature_dim()}, 2);  // 7x7 + 1: 224 px
  ClipResNetConfig got = clip_resnet_config_from(ClipWeights(m, "w"));
  EXPECT_EQ(got.layers, c.layers);
  EXPECT_EQ(got.width, 16);
  EXPECT_EQ(got.image_resolution, 224);
  EXPECT_EQ(got.name, "custom");
}

TEST(ClipResNet, MissingOrMisshapenWeightsAreNamed) {
  ClipResNetConfig c;
  c.layers = {1, 1, 1, 1};
  c.width = 8;
  io::TensorMap m = random_clip_resnet_weights(c, 1);
  m.erase("visual.layer3.0.bn2.running_var");
  try {
    ClipResNet net(c, ClipWeights(m, "'rn.safetensors'"));
    FAIL() << "no error for a missing tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("visual.layer3.0.bn2.running_var"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rn.safetensors"), std::string::npos) << e.what();
  }
  m = random_clip_resnet_weights(c, 1);
  m["visual.layer2.0.conv2.weight"] = test::randn({16, 16, 1, 1}, 1);
  EXPECT_THROW(ClipResNet(c, ClipWeights(m, "w")), Error);
  m = random_clip_resnet_weights(c, 1);
  ClipResNet net(c, ClipWeights(m, "w"));
  EXPECT_THROW(net.features(test::randn({1, 3, 48, 64}, 1)), Error);  // 48 is not a multiple of 32
}

}  // namespace
}  // namespace mapet::models
