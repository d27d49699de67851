// CLIP's ViT image encoder (a small configuration, random weights) against a
// float64 reference written from the architecture with OpenAI's parameter
// layout: packed q/k/v in_proj, QuickGELU, LayerNorm eps 1e-5, ln_post + proj.
#include "models/clip_vit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/test_util.h"

namespace mapet::models {
namespace {

using Mat = std::vector<double>;  // row-major [rows, cols]

Mat vec(const io::TensorMap& m, const std::string& name) {
  std::vector<float> f = m.at(name).to_vector();
  return Mat(f.begin(), f.end());
}

Mat layer_norm(const Mat& x, int64_t rows, int64_t d, const Mat& g, const Mat& b) {
  Mat y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += x[r * d + i] / d;
    for (int64_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean) / d;
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = (x[r * d + i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i];
  }
  return y;
}

// y[rows, out] = x[rows, in] W^T + b, W [out, in] (PyTorch's Linear layout); row offset into W and b.
Mat linear(const Mat& x, int64_t rows, int64_t in, const Mat& w, const Mat& b, int64_t out, int64_t w_row0 = 0) {
  Mat y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[w_row0 + o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[(w_row0 + o) * in + i];
      y[r * out + o] = s;
    }
  return y;
}

Mat reference_features(const ClipVitConfig& c, const io::TensorMap& m, const Tensor& image /* [3, R, R] */) {
  const int64_t D = c.width, g = c.grid(), T = g * g + 1, p = c.patch, H = c.heads, hd = D / H;
  std::vector<float> px = image.to_vector();
  Mat conv = vec(m, "visual.conv1.weight"), cls = vec(m, "visual.class_embedding"), pos = vec(m, "visual.positional_embedding");
  Mat x(T * D);
  for (int64_t i = 0; i < D; ++i) x[i] = cls[i] + pos[i];
  for (int64_t py = 0; py < g; ++py)
    for (int64_t pxx = 0; pxx < g; ++pxx)
      for (int64_t o = 0; o < D; ++o) {
        double s = 0;
        for (int64_t ch = 0; ch < 3; ++ch)
          for (int64_t ky = 0; ky < p; ++ky)
            for (int64_t kx = 0; kx < p; ++kx)
              s += px[(ch * g * p + py * p + ky) * g * p + pxx * p + kx] * conv[((o * 3 + ch) * p + ky) * p + kx];
        const int64_t t = 1 + py * g + pxx;
        x[t * D + o] = s + pos[t * D + o];
      }
  x = layer_norm(x, T, D, vec(m, "visual.ln_pre.weight"), vec(m, "visual.ln_pre.bias"));
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string pre = "visual.transformer.resblocks." + std::to_string(l) + ".";
    Mat y = layer_norm(x, T, D, vec(m, pre + "ln_1.weight"), vec(m, pre + "ln_1.bias"));
    Mat inw = vec(m, pre + "attn.in_proj_weight"), inb = vec(m, pre + "attn.in_proj_bias");
    Mat q = linear(y, T, D, inw, inb, D, 0), k = linear(y, T, D, inw, inb, D, D), v = linear(y, T, D, inw, inb, D, 2 * D);
    Mat att(T * D, 0.0);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> s(T);
        double mx = -1e300, z = 0;
        for (int64_t j = 0; j < T; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < hd; ++e) dot += q[i * D + h * hd + e] * k[j * D + h * hd + e];
          s[j] = dot / std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        for (double& sj : s) z += (sj = std::exp(sj - mx));
        for (int64_t j = 0; j < T; ++j)
          for (int64_t e = 0; e < hd; ++e) att[i * D + h * hd + e] += s[j] / z * v[j * D + h * hd + e];
      }
    Mat o = linear(att, T, D, vec(m, pre + "attn.out_proj.weight"), vec(m, pre + "attn.out_proj.bias"), D);
    for (int64_t i = 0; i < T * D; ++i) x[i] += o[i];
    y = layer_norm(x, T, D, vec(m, pre + "ln_2.weight"), vec(m, pre + "ln_2.bias"));
    Mat hdn = linear(y, T, D, vec(m, pre + "mlp.c_fc.weight"), vec(m, pre + "mlp.c_fc.bias"), 4 * D);
    for (double& a : hdn) a = a / (1.0 + std::exp(-1.702 * a));  // QuickGELU
    o = linear(hdn, T, 4 * D, vec(m, pre + "mlp.c_proj.weight"), vec(m, pre + "mlp.c_proj.bias"), D);
    for (int64_t i = 0; i < T * D; ++i) x[i] += o[i];
  }
  Mat patches(x.begin() + D, x.end());
  patches = layer_norm(patches, T - 1, D, vec(m, "visual.ln_post.weight"), vec(m, "visual.ln_post.bias"));
  Mat proj = vec(m, "visual.proj"), out((T - 1) * c.output_dim, 0.0);
  for (int64_t t = 0; t < T - 1; ++t)
    for (int64_t o = 0; o < c.output_dim; ++o)
      for (int64_t i = 0; i < D; ++i) out[t * c.output_dim + o] += patches[t * D + i] * proj[i * c.output_dim + o];
  return out;
}

ClipVitConfig tiny() {
  ClipVitConfig c;
  c.name = "tiny";
  c.width = 32, c.layers = 2, c.heads = 2, c.patch = 4, c.image_resolution = 12, c.output_dim = 24;
  return c;
}

TEST(ClipViT, MatchesFloat64Reference) {
  ClipVitConfig c = tiny();
  io::TensorMap m = random_clip_vit_weights(c, 7);
  ClipViT vit(c, ClipWeights(m, "test weights"));
  Tensor images = test::randn({2, 3, 12, 12}, 8);
  Tensor f = vit.features(images);
  ASSERT_EQ(f.shape(), (Shape{2, 9, 24}));
  for (int64_t b = 0; b < 2; ++b) {
    Mat want = reference_features(c, m, images.select(0, b));
    EXPECT_TRUE(test::all_close(f.select(0, b).contiguous(), want, 1e-4, 1e-4)) << "image " << b;
  }
}

TEST(ClipViT, ConfigurationFromWeights) {
  ClipVitConfig c = tiny();
  // The head count is not in the weights: CLIP's rule (64-dim heads) needs a width multiple of 64.
  EXPECT_THROW(clip_vit_config_from(ClipWeights(random_clip_vit_weights(c, 1), "w")), Error);
  c.width = 128, c.heads = 2;
  ClipVitConfig got = clip_vit_config_from(ClipWeights(random_clip_vit_weights(c, 1), "w"));
  EXPECT_EQ(got.width, 128);
  EXPECT_EQ(got.heads, 2);
  EXPECT_EQ(got.layers, 2);
  EXPECT_EQ(got.patch, 4);
  EXPECT_EQ(got.image_resolution, 12);
  EXPECT_EQ(got.output_dim, 24);
  ClipVitConfig b16 = clip_vit_config("ViT-B/16");
  EXPECT_EQ(b16.grid(), 14);
  EXPECT_EQ(b16.heads, 12);
  EXPECT_THROW(clip_vit_config("ViT-H/14"), Error);
  ClipViT vit(c, ClipWeights(random_clip_vit_weights(c, 1), "w"));
  EXPECT_THROW(vit.features(test::randn({1, 3, 16, 16}, 1)), Error);  // not the model's resolution
}

}  // namespace
}  // namespace mapet::models
