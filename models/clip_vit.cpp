#include "models/clip_vit.h"

#include <cmath>

#include "engine/ops/ops.h"

namespace mapet::models {

namespace {

constexpr float kLayerNormEps = 1e-5f;  // CLIP keeps PyTorch's default

// QuickGELU, x * sigmoid(1.702 x): forward only (the encoder extracts features).
Var quick_gelu(const Var& x) {
  Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* a = xv.data<float>();
  float* b = y.data<float>();
  const int64_t n = y.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) b[i] = a[i] / (1.0f + std::exp(-1.702f * a[i]));
  return Var(y);
}

void set(const Var& v, const Tensor& t) { v.mutable_value().copy_(t); }

}  // namespace

ClipVitConfig clip_vit_config(const std::string& name) {
  ClipVitConfig c;
  c.name = name;
  if (name == "ViT-B/16") c.width = 768, c.layers = 12, c.patch = 16, c.output_dim = 512;
  else if (name == "ViT-B/32") c.width = 768, c.layers = 12, c.patch = 32, c.output_dim = 512;
  else if (name == "ViT-L/14") c.width = 1024, c.layers = 24, c.patch = 14, c.output_dim = 768;
  else throw Error("unknown CLIP ViT '" + name + "' (known: ViT-B/16, ViT-B/32, ViT-L/14)");
  c.heads = c.width / 64;
  c.image_resolution = 224;
  return c;
}

ClipVitConfig clip_vit_config_from(const ClipWeights& w) {
  ClipVitConfig c;
  const Tensor conv = w.get("visual.conv1.weight"), pos = w.get("visual.positional_embedding"), proj = w.get("visual.proj");
  if (conv.dim() != 4 || conv.size(1) != 3 || conv.size(2) != conv.size(3) || pos.dim() != 2 || proj.dim() != 2)
    throw Error("CLIP weights " + w.what() + ": 'visual.conv1.weight' " + conv.str() + " / 'visual.positional_embedding' " +
                pos.str() + " do not describe a CLIP ViT");
  c.width = conv.size(0), c.patch = conv.size(2), c.heads = c.width / 64, c.output_dim = proj.size(1);
  if (c.width % 64 != 0)  // the head count is not stored; OpenAI's ViTs all use 64-dim heads
    throw Error("CLIP weights " + w.what() + ": width " + std::to_string(c.width) +
                " is not a multiple of 64, so the number of attention heads is unknown");
  c.layers = w.count_indexed("visual.transformer.resblocks.");
  const int64_t grid = static_cast<int64_t>(std::lround(std::sqrt(double(pos.size(0) - 1))));
  c.image_resolution = grid * c.patch;
  c.name = "ViT-custom";
  for (const char* known : {"ViT-B/16", "ViT-B/32", "ViT-L/14"}) {
    ClipVitConfig k = clip_vit_config(known);
    if (k.width == c.width && k.layers == c.layers && k.patch == c.patch && k.image_resolution == c.image_resolution &&
        k.output_dim == c.output_dim)
      c.name = known;
  }
  return c;
}

ClipViT::ClipViT(const ClipVitConfig& c, const ClipWeights& w) : config_(c) {
  const int64_t D = c.width, P = c.grid() * c.grid();
  if (c.width % c.heads != 0) throw Error("CLIP ViT: width " + std::to_string(D) + " is not a multiple of heads");
  conv_weight = Var(w.get("visual.conv1.weight", {D, 3, c.patch, c.patch}).clone());
  conv_bias = Var(Tensor::zeros({D}));  // CLIP's patch convolution has no bias
  class_embedding = Var(w.get("visual.class_embedding", {D}).clone().view({1, 1, D}));
  positional_embedding = Var(w.get("visual.positional_embedding", {P + 1, D}).clone().view({1, P + 1, D}));
  proj = Var(w.get("visual.proj", {D, c.output_dim}).clone());
  ln_pre = std::make_unique<nn::LayerNorm>(D, kLayerNormEps);
  ln_post = std::make_unique<nn::LayerNorm>(D, kLayerNormEps);
  set(ln_pre->weight, w.get("visual.ln_pre.weight", {D})), set(ln_pre->bias, w.get("visual.ln_pre.bias", {D}));
  set(ln_post->weight, w.get("visual.ln_post.weight", {D})), set(ln_post->bias, w.get("visual.ln_post.bias", {D}));
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "visual.transformer.resblocks." + std::to_string(i) + ".";
    nn::BlockConfig bc;
    bc.dim = D, bc.heads = c.heads, bc.mlp_ratio = 4.0f, bc.qkv_bias = true;
    auto b = std::make_unique<nn::Block>(bc);
    b->norm1.eps = b->norm2.eps = kLayerNormEps;
    set(b->norm1.weight, w.get(p + "ln_1.weight", {D})), set(b->norm1.bias, w.get(p + "ln_1.bias", {D}));
    set(b->norm2.weight, w.get(p + "ln_2.weight", {D})), set(b->norm2.bias, w.get(p + "ln_2.bias", {D}));
    Tensor in_w = w.get(p + "attn.in_proj_weight", {3 * D, D}), in_b = w.get(p + "attn.in_proj_bias", {3 * D});
    set(b->attn.q.weight, in_w.slice(0, 0, D)), set(b->attn.q.bias, in_b.slice(0, 0, D));
    set(b->attn.kv.weight, in_w.slice(0, D, 3 * D)), set(b->attn.kv.bias, in_b.slice(0, D, 3 * D));
    set(b->attn.proj.weight, w.get(p + "attn.out_proj.weight", {D, D}));
    set(b->attn.proj.bias, w.get(p + "attn.out_proj.bias", {D}));
    set(b->mlp.fc1.weight, w.get(p + "mlp.c_fc.weight", {4 * D, D})), set(b->mlp.fc1.bias, w.get(p + "mlp.c_fc.bias", {4 * D}));
    set(b->mlp.fc2.weight, w.get(p + "mlp.c_proj.weight", {D, 4 * D}));
    set(b->mlp.fc2.bias, w.get(p + "mlp.c_proj.bias", {D}));
    b->train(false);
    blocks.push_back(std::move(b));
  }
}

ClipViT::~ClipViT() = default;

Tensor ClipViT::features(const Tensor& images) const {
  const int64_t R = config_.image_resolution;
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != R || images.size(3) != R)
    throw Error("CLIP " + config_.name + ": expected images [B, 3, " + std::to_string(R) + ", " + std::to_string(R) +
                "], got " + images.str());
  autograd::NoGradGuard no_grad;
  const int64_t B = images.size(0), T = config_.grid() * config_.grid() + 1;
  Var x = ops::patch_embed(Var(images), conv_weight, conv_bias, config_.patch);
  x = ops::add(ops::concat({ops::expand_batch(class_embedding, B), x}, 1), positional_embedding);
  x = ln_pre->forward(x);
  for (const auto& b : blocks) {
    Var h = ops::add(x, b->attn.forward(b->norm1.forward(x)));
    x = ops::add(h, b->mlp.fc2.forward(quick_gelu(b->mlp.fc1.forward(b->norm2.forward(h)))));
  }
  Var patches = ln_post->forward(ops::slice(x, 1, 1, T));
  return ops::matmul(patches, proj).value().contiguous();
}

io::TensorMap random_clip_vit_weights(const ClipVitConfig& c, uint64_t seed) {
  Generator g(seed);
  io::TensorMap m;
  const int64_t D = c.width, P = c.grid() * c.grid();
  auto rnd = [&](const std::string& name, const Shape& s, float mean, float std) {
    Tensor t = Tensor::empty(s);
    g.normal_(t, mean, std);
    m[name] = t;
  };
  const float sd = 1.0f / std::sqrt(static_cast<float>(D));
  rnd("visual.conv1.weight", {D, 3, c.patch, c.patch}, 0.0f, 1.0f / std::sqrt(3.0f * c.patch * c.patch));
  rnd("visual.class_embedding", {D}, 0.0f, sd);
  rnd("visual.positional_embedding", {P + 1, D}, 0.0f, 0.1f);
  rnd("visual.proj", {D, c.output_dim}, 0.0f, sd);
  for (const char* ln : {"visual.ln_pre", "visual.ln_post"}) {
    rnd(std::string(ln) + ".weight", {D}, 1.0f, 0.1f);
    rnd(std::string(ln) + ".bias", {D}, 0.0f, 0.1f);
  }
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "visual.transformer.resblocks." + std::to_string(i) + ".";
    rnd(p + "ln_1.weight", {D}, 1.0f, 0.1f), rnd(p + "ln_1.bias", {D}, 0.0f, 0.1f);
    rnd(p + "ln_2.weight", {D}, 1.0f, 0.1f), rnd(p + "ln_2.bias", {D}, 0.0f, 0.1f);
    rnd(p + "attn.in_proj_weight", {3 * D, D}, 0.0f, sd), rnd(p + "attn.in_proj_bias", {3 * D}, 0.0f, 0.1f);
    rnd(p + "attn.out_proj.weight", {D, D}, 0.0f, sd), rnd(p + "attn.out_proj.bias", {D}, 0.0f, 0.1f);
    rnd(p + "mlp.c_fc.weight", {4 * D, D}, 0.0f, sd), rnd(p + "mlp.c_fc.bias", {4 * D}, 0.0f, 0.1f);
    rnd(p + "mlp.c_proj.weight", {D, 4 * D}, 0.0f, 0.5f * sd), rnd(p + "mlp.c_proj.bias", {D}, 0.0f, 0.1f);
  }
  return m;
}

}  // namespace mapet::models
