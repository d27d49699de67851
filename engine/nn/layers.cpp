#include "engine/nn/layers.h"

#include "engine/ops/ops.h"

namespace mapet::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) {
  // Overwritten by the model's init; zeros keep construction cheap and deterministic.
  weight = register_parameter("weight", Tensor::zeros({out, in}));
  if (has_bias) bias = register_parameter("bias", Tensor::zeros({out}));
}

Var Linear::forward(const Var& x) const { return ops::linear(x, weight, bias); }

LayerNorm::LayerNorm(int64_t dim, float e) : eps(e) {
  weight = register_parameter("weight", Tensor::full({dim}, 1.0f));
  bias = register_parameter("bias", Tensor::zeros({dim}));
}

Var LayerNorm::forward(const Var& x) const { return ops::layer_norm(x, weight, bias, eps); }

Mlp::Mlp(int64_t dim, int64_t hidden)
    : fc1(register_module("fc1", std::make_unique<Linear>(dim, hidden))),
      fc2(register_module("fc2", std::make_unique<Linear>(hidden, dim))) {}

Var Mlp::forward(const Var& x) const {
  if (!fc1.bias.defined()) return fc2.forward(ops::gelu(fc1.forward(x)));
  // fc1's bias goes into the GELU, whose backward then also sums its gradient.
  return fc2.forward(ops::bias_gelu(ops::linear(x, fc1.weight, Var()), fc1.bias));
}

Attention::Attention(int64_t d, int64_t h, bool qkv_bias)
    : dim(d),
      heads(h),
      q(register_module("q", std::make_unique<Linear>(d, d, qkv_bias))),
      kv(register_module("kv", std::make_unique<Linear>(d, 2 * d, qkv_bias))),
      proj(register_module("proj", std::make_unique<Linear>(d, d))) {
  if (d % h != 0) throw Error("Attention: dim " + std::to_string(d) + " is not a multiple of heads " + std::to_string(h));
}

Var Attention::split_heads(const Var& x) const {
  const int64_t B = x.size(0), T = x.size(1);
  return ops::transpose(ops::reshape(x, {B, T, heads, dim / heads}), 1, 2);
}

Var Attention::forward(const Var& x, const Tensor& mask) const {
  return forward(x, x, [&](const Var& qx, const Var& kvx) {
    if (!mask.defined()) {
      // No mask: every row sees every key, which is the interval mask [0, T) of
      // MIM; the fused flash-style kernel then avoids the T x T probabilities.
      return ops::interval_attention_packed(qx, kvx, heads,
                                            ops::mapet_interval_mask(common::Objective::mim, kvx.size(1), 1));
    }
    Var o = ops::scaled_dot_product_attention(split_heads(qx), split_heads(ops::slice(kvx, 2, 0, dim)),
                                              split_heads(ops::slice(kvx, 2, dim, 2 * dim)), mask);
    return ops::reshape(ops::contiguous(ops::transpose(o, 1, 2)), {qx.size(0), qx.size(1), dim});
  });
}

Var Attention::forward(const Var& x_q, const Var& x_kv, const AttendFn& attend) const {
  return proj.forward(attend(q.forward(x_q), kv.forward(x_kv)));
}

LayerScale::LayerScale(int64_t dim, float init) { gamma = register_parameter("gamma", Tensor::full({dim}, init)); }

Var LayerScale::forward(const Var& x) const { return ops::mul(x, gamma); }

Block::Block(const BlockConfig& c)
    : config(c),
      norm1(register_module("norm1", std::make_unique<LayerNorm>(c.dim))),
      attn(register_module("attn", std::make_unique<Attention>(c.dim, c.heads, c.qkv_bias))),
      norm2(register_module("norm2", std::make_unique<LayerNorm>(c.dim))),
      mlp(register_module("mlp", std::make_unique<Mlp>(c.dim, static_cast<int64_t>(c.dim * c.mlp_ratio)))) {
  if (c.layer_scale_init > 0.0f) {
    ls1 = &register_module("ls1", std::make_unique<LayerScale>(c.dim, c.layer_scale_init));
    ls2 = &register_module("ls2", std::make_unique<LayerScale>(c.dim, c.layer_scale_init));
  }
}

Var Block::forward(const Var& x, Context& ctx, const Tensor& mask) const {
  return forward(x, ctx, [&](const Attention& a, const Var& y) { return a.forward(y, mask); });
}

Var Block::forward(const Var& x, Context& ctx, const AttentionStep& attend) const {
  const float drop_path = training() ? config.drop_path : 0.0f;
  if (drop_path > 0.0f && !ctx.rng) throw Error("Block: drop_path needs a random generator in the context");
  // x + drop_path(ls(y)), fused.
  auto residual = [&](const Var& x_, const Var& y, LayerScale* ls) {
    return ops::scaled_residual(x_, y, ls ? ls->gamma : Var(), drop_path, ctx.rng);
  };
  Var a = attend(attn, norm1.forward(x));
  // The step may answer for only the last rows of x (MaPeT's last block, whose
  // content stream feeds nothing); the block then carries on with those rows.
  const int64_t T = x.size(1), Ta = a.size(1);
  if (Ta > T) throw Error("Block: the attention step returned " + std::to_string(Ta) + " rows for " + std::to_string(T));
  Var h = residual(Ta == T ? x : ops::slice(x, 1, T - Ta, T), a, ls1);
  return residual(h, mlp.forward(norm2.forward(h)), ls2);
}

}  // namespace mapet::nn
