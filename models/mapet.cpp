#include "models/mapet.h"

#include <algorithm>

#include "engine/ops/ops.h"
#include "models/names.h"

namespace mapet::models {

namespace {

VitConfig backbone_config(const MapetConfig& c) {
  VitConfig v = c.vit;
  v.num_classes = 0;
  v.global_pool = "token";  // registers the final `norm`
  return v;
}

void check_tokens(const Tensor& t, const char* name, int64_t B, int64_t P) {
  if (!t.defined() || t.dtype() != DType::i64 || t.dim() != 2 || t.size(0) != B || t.size(1) != P)
    throw Error(std::string("mapet: batch tensor '") + name + "' must be i64 [" + std::to_string(B) + ", " +
                std::to_string(P) + "], got " + (t.defined() ? t.str() : std::string("nothing")));
}

}  // namespace

MapetModel::MapetModel(const MapetConfig& c) : VisionTransformer(backbone_config(c)), mapet_config(c) {
  const int64_t T = config.num_patches() + 1;
  if (c.least_number < 1 || c.least_number >= T)
    throw Error("mapet: --least-number " + std::to_string(c.least_number) + " must be in [1, " +
                std::to_string(T - 1) + "] for " + std::to_string(T) + " tokens");
  mask_token = register_parameter(c.objective == common::Objective::mim ? "mask_token" : "mask_positional_token",
                                  Tensor::zeros({1, 1, config.embed_dim}));
  decoder = &register_module("decoder", std::make_unique<nn::Linear>(config.embed_dim, c.vocab_size));
}

MapetOutput MapetModel::forward(const MapetBatch& batch, nn::Context& ctx) const {
  return mapet_config.objective == common::Objective::mim ? forward_mim(batch, ctx) : forward_permuted(batch, ctx);
}

MapetOutput MapetModel::forward_permuted(const MapetBatch& batch, nn::Context& ctx) const {
  const common::Objective obj = mapet_config.objective;
  const int64_t B = batch.images.size(0), P = config.num_patches(), T = P + 1, L = mapet_config.least_number,
                M = T - L;
  check_tokens(batch.tokens, "tokens", B, P);
  check_tokens(batch.perm, "perm", B, P);
  const Device dev = device();

  // Index tensors from the permutation, built on the host (the batch's integers
  // are read there) and then placed on the model's device: real tokens in rank
  // order, and the predicted patches.
  Tensor real_idx = Tensor::empty({B, T}, DType::i64), pred_idx = Tensor::empty({B, M}, DType::i64);
  Tensor targets = Tensor::empty({B * M}, DType::i64), patch_index = Tensor::empty({B * M}, DType::i64);
  const Tensor perm_host = batch.perm.to(Device::cpu).contiguous(), tok_host = batch.tokens.to(Device::cpu).contiguous();
  const int64_t* perm = perm_host.data<int64_t>();
  const int64_t* tok = tok_host.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    std::vector<bool> seen(P, false);
    real_idx.data<int64_t>()[b * T] = 0;  // CLS
    for (int64_t r = 0; r < P; ++r) {
      int64_t p = perm[b * P + r];
      if (p < 0 || p >= P || seen[p])
        throw Error("mapet: perm[" + std::to_string(b) + "] is not a permutation of 0.." + std::to_string(P - 1) +
                    " (entry " + std::to_string(r) + " = " + std::to_string(p) + ")");
      seen[p] = true;
      real_idx.data<int64_t>()[b * T + r + 1] = p + 1;
    }
    for (int64_t q = 0; q < M; ++q) {
      int64_t p = perm[b * P + L - 1 + q];
      pred_idx.data<int64_t>()[b * M + q] = p + 1;
      targets.data<int64_t>()[b * M + q] = tok[b * P + p];
      patch_index.data<int64_t>()[b * M + q] = p;
    }
  }

  Var x = ops::patch_embed(Var(batch.images), patch_proj->weight, patch_proj->bias, config.patch_size);
  x = ops::add(ops::concat({ops::expand_batch(cls_token, B), x}, 1), pos_embed);  // natural order
  Var real = ops::gather_tokens(x, real_idx.to(dev));                             // rank order
  // m_p = mask_positional_token + pos_embed[p], the "auxiliary position" of each predicted patch.
  Var masks = ops::add(ops::gather_tokens(ops::expand_batch(pos_embed, B), pred_idx.to(dev)), mask_token);
  const bool mapet = obj == common::Objective::mapet;
  Var seq = mapet ? ops::concat({real, masks, masks}, 1) : ops::concat({real, masks}, 1);
  if (training() && config.drop_rate > 0.0f) seq = ops::dropout(seq, config.drop_rate, true, *ctx.rng);

  const int64_t rows = seq.size(1), key_rows = mapet ? T + M : T;
  // Queries from rows [first_row, rows) of the block's normed input: all rows,
  // or in the last block only the query stream, since nothing reads the last
  // content stream (its keys and values still come from all key rows).
  auto attend_from = [&](int64_t first_row) {
    ops::IntervalMask im = ops::mapet_interval_mask(obj, T, L);
    im.real_end.erase(im.real_end.begin(), im.real_end.begin() + first_row);
    im.mask_start.erase(im.mask_start.begin(), im.mask_start.begin() + first_row);
    return [=](const nn::Attention& a, const Var& y) {
      Var y_kv = key_rows == rows ? y : ops::slice(y, 1, 0, key_rows);
      Var y_q = first_row == 0 ? y : ops::slice(y, 1, first_row, rows);
      return a.forward(y_q, y_kv, [&](const Var& q, const Var& kv) {
        return ops::interval_attention_packed(q, kv, a.heads, im);
      });
    };
  };
  const nn::Block::AttentionStep all_rows = attend_from(0), query_rows = attend_from(rows - M);
  for (size_t i = 0; i < blocks->size(); ++i)
    seq = static_cast<nn::Block&>((*blocks)[i]).forward(seq, ctx, i + 1 == blocks->size() ? query_rows : all_rows);
  Var g = seq.size(1) == M ? seq : ops::slice(seq, 1, rows - M, rows);  // the query stream
  return finish(g, targets, patch_index, M);
}

MapetOutput MapetModel::forward_mim(const MapetBatch& batch, nn::Context& ctx) const {
  const int64_t B = batch.images.size(0), P = config.num_patches();
  check_tokens(batch.tokens, "tokens", B, P);
  const Device dev = device();
  // The mask and tokens are read on the host; the index tensors built from them go to the model's device.
  Tensor mask = batch.mask.defined() ? batch.mask.to(Device::cpu).to(DType::u8).contiguous() : Tensor();
  if (!mask.defined() || mask.dim() != 2 || mask.size(0) != B || mask.size(1) != P)
    throw Error("mim: batch tensor 'mask' must be u8 [" + std::to_string(B) + ", " + std::to_string(P) + "]");
  const uint8_t* mp = mask.data<uint8_t>();
  int64_t M = 0;
  for (int64_t p = 0; p < P; ++p) M += mp[p] != 0;
  Tensor mix_idx = Tensor::empty({B, P}, DType::i64), pred_idx = Tensor::empty({B, M}, DType::i64);
  Tensor targets = Tensor::empty({B * M}, DType::i64), patch_index = Tensor::empty({B * M}, DType::i64);
  const Tensor tok_host = batch.tokens.to(Device::cpu).contiguous();
  const int64_t* tok = tok_host.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t q = 0;
    for (int64_t p = 0; p < P; ++p) {
      bool masked = mp[b * P + p] != 0;
      mix_idx.data<int64_t>()[b * P + p] = masked ? P : p;  // row P of the candidates is the mask token
      if (!masked) continue;
      if (q == M)
        throw Error("mim: every sample must mask the same number of patches (sample 0 masks " + std::to_string(M) +
                    ", sample " + std::to_string(b) + " more)");
      pred_idx.data<int64_t>()[b * M + q] = p + 1;
      targets.data<int64_t>()[b * M + q] = tok[b * P + p];
      patch_index.data<int64_t>()[b * M + q] = p;
      ++q;
    }
    if (q != M)
      throw Error("mim: every sample must mask the same number of patches (sample 0 masks " + std::to_string(M) +
                  ", sample " + std::to_string(b) + " masks " + std::to_string(q) + ")");
  }
  Var x = ops::patch_embed(Var(batch.images), patch_proj->weight, patch_proj->bias, config.patch_size);
  x = ops::gather_tokens(ops::concat({x, ops::expand_batch(mask_token, B)}, 1), mix_idx.to(dev));  // masked -> mask_token
  x = ops::add(ops::concat({ops::expand_batch(cls_token, B), x}, 1), pos_embed);
  if (training() && config.drop_rate > 0.0f) x = ops::dropout(x, config.drop_rate, true, *ctx.rng);
  for (size_t i = 0; i < blocks->size(); ++i) x = static_cast<nn::Block&>((*blocks)[i]).forward(x, ctx);
  return finish(ops::gather_tokens(x, pred_idx.to(dev)), targets, patch_index, M);
}

MapetOutput MapetModel::finish(const Var& predicted, Tensor targets, Tensor patch_index, int64_t per_sample) const {
  const int64_t rows = predicted.size(0) * predicted.size(1);
  MapetOutput out;
  out.logits = ops::reshape(decoder->forward(norm->forward(predicted)), {rows, mapet_config.vocab_size});
  // targets and patch_index come from the host; they go where the logits are (the model's device).
  const Device dev = out.logits.value().device();
  out.targets = targets.to(dev);
  out.patch_index = patch_index.to(dev);
  out.loss = ops::cross_entropy(out.logits, out.targets);
  out.per_sample = per_sample;
  // The accuracy is a statistic for progress lines: top-1 indices on the device, compared on the host.
  const Tensor predicted_host = ops::argmax_rows(out.logits.value()).to(Device::cpu);
  const int64_t* pp = predicted_host.data<int64_t>();
  const int64_t* tp = targets.data<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < rows; ++i) correct += pp[i] == tp[i];
  out.token_accuracy = rows ? static_cast<double>(correct) / static_cast<double>(rows) : 0.0;
  return out;
}

MapetConfig mapet_config(const std::string& name) {
  const std::vector<std::string>& known = mapet_model_names();
  if (std::find(known.begin(), known.end(), name) == known.end()) throw unknown_model(name, known);
  MapetConfig c;
  c.vit = vit_config("vit_standard_" + name.substr(6));  // the same widths as the classifier of that size
  c.vit.layer_scale_init = 0.1f;
  c.vit.drop_path_rate = 0.1f;
  return c;
}

bool is_mapet_name(const std::string& name) { return name.rfind("mapet_", 0) == 0; }

common::Objective parse_objective(const std::string& s) {
  if (s == "mapet") return common::Objective::mapet;
  if (s == "pet") return common::Objective::pet;
  if (s == "mim") return common::Objective::mim;
  throw Error("unknown --objective '" + s + "' (mapet, pet or mim)");
}

}  // namespace mapet::models
