// The layers a Vision Transformer is made of, named as in timm.
#pragma once
#include <functional>

#include "engine/nn/module.h"

namespace mapet::nn {

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Var forward(const Var& x) const;
  Var weight, bias;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, float eps = 1e-6f);
  Var forward(const Var& x) const;
  Var weight, bias;
  float eps;
};

class Mlp : public Module {  // fc1 -> GELU -> fc2
 public:
  Mlp(int64_t dim, int64_t hidden);
  Var forward(const Var& x) const;
  Linear& fc1;
  Linear& fc2;
};

// Multi-head self-attention with separate q and kv projections (the official
// MaPeT layout: attn.q, attn.kv with k then v, attn.proj).
class Attention : public Module {
 public:
  Attention(int64_t dim, int64_t heads, bool qkv_bias = true);
  Var forward(const Var& x, const Tensor& mask = Tensor()) const;
  // Queries from the rows of x_q, keys and values from the rows of x_kv;
  // attend(q, kv) computes the attention itself from the projections as they
  // are, heads packed (q [B, Tq, D], kv [B, Tk, 2D]: keys then values), and
  // returns [B, Tq, D] with the heads merged (ops::interval_attention_packed).
  using AttendFn = std::function<Var(const Var& q, const Var& kv)>;
  Var forward(const Var& x_q, const Var& x_kv, const AttendFn& attend) const;
  // Splits [B, T, D] into heads [B, H, T, D/H] (a view).
  Var split_heads(const Var& x) const;
  int64_t dim, heads;
  Linear& q;
  Linear& kv;
  Linear& proj;
};

class LayerScale : public Module {  // x * gamma, gamma [D] (timm: ls1.gamma)
 public:
  LayerScale(int64_t dim, float init);
  Var forward(const Var& x) const;
  Var gamma;
};

struct BlockConfig {
  int64_t dim = 384, heads = 6;
  float mlp_ratio = 4.0f;
  bool qkv_bias = true;
  float drop_path = 0.0f;
  float layer_scale_init = 0.0f;  // 0: no layer scale (timm's init_values=None)
};

// Pre-norm transformer block: x + dp(ls1(attn(norm1 x))), then x + dp(ls2(mlp(norm2 x))).
class Block : public Module {
 public:
  explicit Block(const BlockConfig& c);
  Var forward(const Var& x, Context& ctx, const Tensor& mask = Tensor()) const;
  // The same block with the attention step supplied: attend(attn, norm1(x)) -> [B, T', D]
  // for the last T' <= T rows of x; the block returns those rows only.
  using AttentionStep = std::function<Var(const Attention& attn, const Var& x_normed)>;
  Var forward(const Var& x, Context& ctx, const AttentionStep& attend) const;
  BlockConfig config;
  LayerNorm& norm1;
  Attention& attn;
  LayerScale* ls1 = nullptr;
  LayerNorm& norm2;
  Mlp& mlp;
  LayerScale* ls2 = nullptr;
};

}  // namespace mapet::nn
