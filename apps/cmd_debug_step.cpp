// mapet debug-step: one forward/backward (and optionally a few AdamW steps) of
// a named model on a batch from a file, with every gradient written out, so the
// engine can be checked tensor by tensor against another framework.
//
// The architecture comes from the weights, as for `validate` and `finetune`
// (models::options_from_weights): patch size, width, depth, layer scale, global
// pool and classes; the named model gives the rest (heads), flags override.
// Weights are read as the other commands read them: safetensors, torch.save,
// or a training checkpoint (its model.* tensors).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>

#include "apps/commands.h"
#include "apps/train/classifier.h"
#include "engine/io/safetensors.h"
#include "engine/io/state_dict.h"
#include "engine/ops/cross_entropy.h"
#include "engine/optim/adamw.h"
#include "models/mapet.h"
#include "models/registry.h"

namespace mapet::apps {

namespace {

struct DebugStepArgs {
  std::string model, weights, batch, out, global_pool, objective = "mapet";
  int64_t num_classes = -1, patch_size = -1, num_heads = -1, steps = 0, least_number = 50, vocab_size = -1;
  float lr = 1e-3f, weight_decay = 0.05f;
};

Tensor require(const io::TensorMap& m, const std::string& name, const std::string& file, DType t, int64_t dims) {
  auto it = m.find(name);
  if (it == m.end()) throw Error("'" + file + "' has no tensor '" + name + "'");
  if (it->second.dtype() != t || it->second.dim() != dims)
    throw Error("'" + file + "': tensor '" + name + "' is " + it->second.str() + ", expected " + dtype_name(t) +
                " with " + std::to_string(dims) + " dims");
  return it->second;
}

// The options the flags and the batch set, completed from the weights; what was taken is printed.
models::ModelOptions model_options(const DebugStepArgs& a, const Tensor& images, const io::TensorMap& w) {
  models::ModelOptions o;
  o.num_classes = a.num_classes;
  o.img_size = images.size(2);
  o.in_chans = images.size(1);
  o.patch_size = a.patch_size;
  o.num_heads = a.num_heads;
  o.drop_path_rate = 0.0f;  // deterministic: no dropout, no drop-path
  o.global_pool = a.global_pool;
  std::string taken;
  o = models::options_from_weights(w, o, &taken);
  if (!taken.empty()) std::printf("from the weights: %s\n", taken.c_str());
  return o;
}

// Shared by both model kinds: forward+backward via `loss_fn`, then `steps` AdamW steps.
void run_steps(const DebugStepArgs& a, const nn::Module& model, const std::function<Var()>& loss_fn, Var first_loss,
               io::TensorMap& out) {
  for (const nn::NamedParam& p : model.named_parameters()) {
    if (!p.var.grad().defined()) throw Error("debug-step: parameter '" + p.name + "' received no gradient");
    out["grad." + p.name] = p.var.grad().contiguous().clone();
  }
  std::printf("loss %.6f\n", first_loss.value().item());
  if (a.steps > 0) {
    optim::AdamWConfig oc;
    oc.lr = a.lr;
    oc.weight_decay = a.weight_decay;
    optim::AdamW opt(model.named_parameters(), oc);
    for (int64_t s = 0; s < a.steps; ++s) {
      if (s > 0) {  // the first step uses the gradients computed above
        opt.zero_grad();
        Var l = loss_fn();
        autograd::backward(l);
        std::printf("step %lld loss %.6f\n", static_cast<long long>(s), l.value().item());
      }
      opt.step();
    }
    for (const nn::NamedParam& p : model.named_parameters()) out["param." + p.name] = p.var.value().clone();
  }
  io::save_safetensors(a.out, out);
  std::printf("wrote %s (%zu tensors)\n", a.out.c_str(), out.size());
}

void run_mapet(const DebugStepArgs& a) {
  io::TensorMap batch = io::load_safetensors(a.batch);
  models::MapetConfig c = models::mapet_config(a.model);
  c.objective = models::parse_objective(a.objective);
  c.least_number = a.least_number;
  if (a.vocab_size > 0) c.vocab_size = a.vocab_size;
  models::MapetBatch b;
  b.images = require(batch, "images", a.batch, DType::f32, 4);
  b.tokens = require(batch, "tokens", a.batch, DType::i64, 2);
  if (c.objective == common::Objective::mim)
    b.mask = require(batch, "mask", a.batch, DType::u8, 2);
  else
    b.perm = require(batch, "perm", a.batch, DType::i64, 2);
  if (b.images.size(2) != b.images.size(3)) throw Error("'" + a.batch + "': images must be square, got " + b.images.str());
  io::LoadedWeights lw = io::load_weights(a.weights);
  for (const std::string& n : lw.notes) std::printf("note: %s\n", n.c_str());
  const io::TensorMap& w = lw.tensors;
  models::apply_options(model_options(a, b.images, w), c.vit);
  // The vocabulary from the weights' decoder unless given.
  if (a.vocab_size <= 0 && w.count("decoder.weight")) c.vocab_size = w.at("decoder.weight").size(0);
  models::MapetModel model(c);
  io::load_into(model, w, "'" + a.weights + "'");
  model.train(true);
  nn::Context ctx;
  models::MapetOutput o = model.forward(b, ctx);
  autograd::backward(o.loss);

  // logits [B, M, V] with each sample's predicted patches in natural (patch index) order.
  const int64_t B = b.images.size(0), M = o.per_sample, V = c.vocab_size;
  Tensor logits = Tensor::empty({B, M, V});
  const int64_t* pi = o.patch_index.data<int64_t>();
  for (int64_t i = 0; i < B; ++i) {
    std::vector<int64_t> rows(M);
    std::iota(rows.begin(), rows.end(), 0);
    std::sort(rows.begin(), rows.end(), [&](int64_t x, int64_t y) { return pi[i * M + x] < pi[i * M + y]; });
    for (int64_t q = 0; q < M; ++q)
      std::memcpy(logits.data<float>() + (i * M + q) * V, o.logits.value().data<float>() + (i * M + rows[q]) * V,
                  static_cast<size_t>(V) * 4);
  }
  io::TensorMap out{{"loss", o.loss.value().clone()}, {"logits", logits}};
  std::printf("token accuracy %.4f\n", o.token_accuracy);
  run_steps(a, model, [&] { return model.forward(b, ctx).loss; }, o.loss, out);
}

void run(const DebugStepArgs& a) {
  if (models::is_mapet_name(a.model)) return run_mapet(a);
  io::TensorMap batch = io::load_safetensors(a.batch);
  Tensor images = require(batch, "images", a.batch, DType::f32, 4);
  Tensor labels = require(batch, "labels", a.batch, DType::i64, 1);
  if (labels.size(0) != images.size(0))
    throw Error("'" + a.batch + "': " + std::to_string(images.size(0)) + " images but " +
                std::to_string(labels.size(0)) + " labels");
  if (images.size(2) != images.size(3)) throw Error("'" + a.batch + "': images must be square, got " + images.str());

  const io::TensorMap w = train::classifier_weights(a.weights);
  auto model = models::create_vit(a.model, model_options(a, images, w));
  io::load_into(*model, w, "'" + a.weights + "'");
  model->train(true);

  nn::Context ctx;
  Var x(images, false);
  Var logits = model->forward(x, ctx);
  Var loss = ops::cross_entropy(logits, labels);
  autograd::backward(loss);

  io::TensorMap out{{"loss", loss.value().clone()}, {"logits", logits.value().clone()}};
  run_steps(a, *model, [&] { return ops::cross_entropy(model->forward(x, ctx), labels); }, loss, out);
}

}  // namespace

void register_debug_step(CLI::App& app) {
  auto a = std::make_shared<DebugStepArgs>();
  CLI::App* c = app.add_subcommand("debug-step", "One forward/backward of a model on a saved batch; writes loss, logits and all gradients");
  c->add_option("--model", a->model, "Model name, e.g. vit_standard_small_patch16_224")->required();
  c->add_option("--num-classes", a->num_classes, "Classifier outputs (default: the weights' head)");
  c->add_option("--patch-size", a->patch_size, "Patch size (default: the weights')");
  c->add_option("--num-heads", a->num_heads, "Attention heads (default: the named model's; not in the weights)");
  c->add_option("--gp", a->global_pool, "Global pool: token or avg (default: the weights': avg when they have fc_norm, no norm)");
  c->add_option("--weights", a->weights, "Model weights: safetensors (timm names), torch.save, or a training checkpoint")
      ->required();
  c->add_option("--batch", a->batch,
                "Batch (.safetensors): images f32 [B,3,H,W] and labels i64 [B]; MaPeT: tokens i64 [B,P] and perm i64 [B,P] (mim: mask u8 [B,P])")->required();
  c->add_option("--out", a->out, "Output .safetensors: loss, logits, grad.<name> [, param.<name>]")->required();
  c->add_option("--objective", a->objective, "MaPeT models: mapet, pet or mim");
  c->add_option("--least-number", a->least_number, "MaPeT models: context tokens L (CLS included)");
  c->add_option("--vocab-size", a->vocab_size, "MaPeT models: visual tokens (default: from the weights' decoder)");
  c->add_option("--steps", a->steps, "AdamW steps to apply (betas 0.9/0.999, eps 1e-8)");
  c->add_option("--lr", a->lr, "AdamW learning rate");
  c->add_option("--weight-decay", a->weight_decay, "AdamW weight decay");
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
