// mapet debug-step: one forward/backward (and optionally a few AdamW steps) of
// a named model on a batch from a file, with every gradient written out, so the
// engine can be checked tensor by tensor against another framework.
//
// The architecture comes from the weights, as for `validate` and `finetune`
// (models::options_from_weights): patch size, width, depth, layer scale, global
// pool and classes; the named model gives the rest (heads), flags override.
// Weights are read as the other commands read them: safetensors, torch.save,
// or a training checkpoint (its model.* tensors).
//
// Without --weights the model is the named one with pretrain's architecture flags
// (--img-size --patch-size --embed-dim --depth --num-heads), initialised from --seed;
// without --batch a batch of --batch-size random images (and, for MaPeT, random
// tokens and the permutations / masks pretrain would draw) comes from --seed. So
// `--device cpu` and `--device cuda-sim` runs of the same flags see the same model and
// batch and can be compared tensor by tensor (the model and batch are built on the
// CPU, then moved to the device; everything written is copied back).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>

#include "apps/commands.h"
#include "apps/train/classifier.h"
#include "apps/train/device.h"
#include "engine/cuda/runtime.h"
#include "engine/io/safetensors.h"
#include "engine/io/state_dict.h"
#include "engine/ops/cross_entropy.h"
#include "engine/optim/adamw.h"
#include "models/mapet.h"
#include "models/permutation.h"
#include "models/registry.h"

namespace mapet::apps {

namespace {

struct DebugStepArgs {
  std::string model, weights, batch, out, global_pool, objective = "mapet";
  int64_t num_classes = -1, patch_size = -1, num_heads = -1, steps = 0, least_number = 50, vocab_size = -1;
  int64_t img_size = -1, embed_dim = -1, depth = -1, batch_size = 2;
  uint64_t seed = 0;
  float lr = 1e-3f, weight_decay = 0.05f;
  train::DeviceFlag device;
  Device dev = Device::cpu;  // resolved
};

// The image size: the batch's when one is read (--img-size must then agree), else --img-size or the model's.
int64_t image_size(const DebugStepArgs& a, int64_t from_batch, int64_t model_default) {
  if (from_batch > 0) {
    if (a.img_size > 0 && a.img_size != from_batch)
      throw Error("--img-size " + std::to_string(a.img_size) + " disagrees with the batch's images (" +
                  std::to_string(from_batch) + " px)");
    return from_batch;
  }
  return a.img_size > 0 ? a.img_size : model_default;
}

// Fresh random images [B, C, S, S] from the seed.
Tensor random_images(const DebugStepArgs& a, int64_t chans, int64_t size) {
  if (a.batch_size < 1) throw Error("--batch-size must be >= 1");
  Tensor t = Tensor::empty({a.batch_size, chans, size, size});
  Generator g(a.seed + 7);
  g.normal_(t);
  return t;
}

Tensor require(const io::TensorMap& m, const std::string& name, const std::string& file, DType t, int64_t dims) {
  auto it = m.find(name);
  if (it == m.end()) throw Error("'" + file + "' has no tensor '" + name + "'");
  if (it->second.dtype() != t || it->second.dim() != dims)
    throw Error("'" + file + "': tensor '" + name + "' is " + it->second.str() + ", expected " + dtype_name(t) +
                " with " + std::to_string(dims) + " dims");
  return it->second;
}

// The options the flags and the batch set, completed from the weights; what was taken is printed.
models::ModelOptions model_options(const DebugStepArgs& a, int64_t img_size, int64_t in_chans, const io::TensorMap* w) {
  models::ModelOptions o;
  o.num_classes = a.num_classes;
  o.img_size = img_size;
  o.in_chans = in_chans;
  o.patch_size = a.patch_size;
  o.num_heads = a.num_heads;
  o.embed_dim = a.embed_dim;
  o.depth = a.depth;
  o.drop_path_rate = 0.0f;  // deterministic: no dropout, no drop-path
  o.global_pool = a.global_pool;
  for (const auto& [flag, v] : {std::pair<const char*, int64_t>{"--patch-size", o.patch_size}, {"--embed-dim", o.embed_dim},
                                {"--depth", o.depth}, {"--num-heads", o.num_heads}, {"--img-size", o.img_size}})
    if (v == 0 || v < -1) throw Error(std::string(flag) + " must be at least 1, got " + std::to_string(v));
  if (!w) return o;
  std::string taken;
  o = models::options_from_weights(*w, o, &taken);
  if (!taken.empty()) std::printf("from the weights: %s\n", taken.c_str());
  return o;
}

void check_shape(const models::VitConfig& c) {
  if (c.img_size % c.patch_size != 0)
    throw Error("--img-size " + std::to_string(c.img_size) + " is not a multiple of --patch-size " +
                std::to_string(c.patch_size));
  if (c.embed_dim % c.num_heads != 0)
    throw Error("--embed-dim " + std::to_string(c.embed_dim) + " is not a multiple of --num-heads " +
                std::to_string(c.num_heads));
}

// Shared by both model kinds: forward+backward via `loss_fn`, then `steps` AdamW steps.
void run_steps(const DebugStepArgs& a, const nn::Module& model, const std::function<Var()>& loss_fn, Var first_loss,
               io::TensorMap& out) {
  for (const nn::NamedParam& p : model.named_parameters()) {
    if (!p.var.grad().defined()) throw Error("debug-step: parameter '" + p.name + "' received no gradient");
    out["grad." + p.name] = p.var.grad().to(Device::cpu).contiguous().clone();
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
    for (const nn::NamedParam& p : model.named_parameters())
      out["param." + p.name] = p.var.value().to(Device::cpu).contiguous().clone();
  }
  if (a.dev != Device::cpu) std::printf("%s\n", train::memory_summary(a.dev).c_str());
  io::save_safetensors(a.out, out);
  std::printf("wrote %s (%zu tensors)\n", a.out.c_str(), out.size());
}

// The permutations (mapet, pet) or block masks (mim) pretrain would draw for samples 0..B-1 of this seed.
void draw_order(const models::MapetConfig& c, uint64_t seed, models::MapetBatch& b) {
  const int64_t B = b.images.size(0), grid = c.vit.grid(), P = grid * grid;
  if (c.objective == common::Objective::mim) {
    b.mask = Tensor::empty({B, P}, DType::u8);
    for (int64_t j = 0; j < B; ++j) {
      const std::vector<uint8_t> m = models::sample_block_mask(grid, c.mim_mask_count, seed, uint64_t(j),
                                                               std::max<int64_t>(1, 16 * P / 196));
      std::copy(m.begin(), m.end(), b.mask.data<uint8_t>() + j * P);
    }
  } else {
    b.perm = Tensor::empty({B, P}, DType::i64);
    models::PermutationConfig pc;
    pc.grid = grid, pc.least_number = c.least_number;
    for (int64_t j = 0; j < B; ++j) {
      const std::vector<int32_t> order = models::sample_permutation(pc, seed, uint64_t(j));
      std::copy(order.begin(), order.end(), b.perm.data<int64_t>() + j * P);
    }
  }
}

void run_mapet(const DebugStepArgs& a) {
  models::MapetConfig c = models::mapet_config(a.model);
  c.objective = models::parse_objective(a.objective);
  c.least_number = a.least_number;
  if (a.vocab_size > 0) c.vocab_size = a.vocab_size;
  models::MapetBatch b;
  if (!a.batch.empty()) {
    io::TensorMap batch = io::load_safetensors(a.batch);
    b.images = require(batch, "images", a.batch, DType::f32, 4);
    b.tokens = require(batch, "tokens", a.batch, DType::i64, 2);
    if (c.objective == common::Objective::mim)
      b.mask = require(batch, "mask", a.batch, DType::u8, 2);
    else
      b.perm = require(batch, "perm", a.batch, DType::i64, 2);
    if (b.images.size(2) != b.images.size(3)) throw Error("'" + a.batch + "': images must be square, got " + b.images.str());
  }
  io::LoadedWeights lw;
  if (!a.weights.empty()) {
    lw = io::load_weights(a.weights);
    for (const std::string& n : lw.notes) std::printf("note: %s\n", n.c_str());
  }
  const io::TensorMap& w = lw.tensors;
  const int64_t size = image_size(a, b.images.defined() ? b.images.size(2) : -1, c.vit.img_size);
  models::apply_options(model_options(a, size, b.images.defined() ? b.images.size(1) : 3, a.weights.empty() ? nullptr : &w),
                        c.vit);
  check_shape(c.vit);
  // The vocabulary from the weights' decoder unless given.
  if (a.vocab_size <= 0 && w.count("decoder.weight")) c.vocab_size = w.at("decoder.weight").size(0);
  if (!b.images.defined()) {  // a batch from the seed: the model's shape
    const int64_t P = c.vit.num_patches();
    if (c.least_number < 1 || c.least_number > P) throw Error("--least-number must be in [1, " + std::to_string(P) + "]");
    c.mim_mask_count = std::max<int64_t>(1, P * 75 / 196);
    b.images = random_images(a, c.vit.in_chans, c.vit.img_size);
    b.tokens = Tensor::empty({a.batch_size, P}, DType::i64);
    Generator g(a.seed + 11);
    for (int64_t i = 0; i < a.batch_size * P; ++i) b.tokens.data<int64_t>()[i] = int64_t(g.randint(uint64_t(c.vocab_size)));
    draw_order(c, a.seed, b);
  }
  models::MapetModel model(c);
  if (a.weights.empty())
    model.init_weights(a.seed);
  else
    io::load_into(model, w, "'" + a.weights + "'");
  model.to(a.dev);
  model.train(true);
  b.images = b.images.to(a.dev), b.tokens = b.tokens.to(a.dev);
  if (b.perm.defined()) b.perm = b.perm.to(a.dev);
  if (b.mask.defined()) b.mask = b.mask.to(a.dev);
  nn::Context ctx;
  models::MapetOutput o = model.forward(b, ctx);
  autograd::backward(o.loss);

  // logits [B, M, V] with each sample's predicted patches in natural (patch index) order.
  const int64_t B = b.images.size(0), M = o.per_sample, V = c.vocab_size;
  Tensor logits = Tensor::empty({B, M, V});
  const Tensor patch_index = o.patch_index.to(Device::cpu), host_logits = o.logits.value().to(Device::cpu).contiguous();
  const int64_t* pi = patch_index.data<int64_t>();
  for (int64_t i = 0; i < B; ++i) {
    std::vector<int64_t> rows(M);
    std::iota(rows.begin(), rows.end(), 0);
    std::sort(rows.begin(), rows.end(), [&](int64_t x, int64_t y) { return pi[i * M + x] < pi[i * M + y]; });
    for (int64_t q = 0; q < M; ++q)
      std::memcpy(logits.data<float>() + (i * M + q) * V, host_logits.data<float>() + (i * M + rows[q]) * V,
                  static_cast<size_t>(V) * 4);
  }
  io::TensorMap out{{"loss", o.loss.value().to(Device::cpu).clone()}, {"logits", logits}};
  std::printf("token accuracy %.4f\n", o.token_accuracy);
  run_steps(a, model, [&] { return model.forward(b, ctx).loss; }, o.loss, out);
}

void run(DebugStepArgs& a) {
  a.dev = a.device.resolve().device;
  if (a.dev != Device::cpu) std::printf("device: %s, %s\n", a.device.name.c_str(), device::describe().c_str());
  if (models::is_mapet_name(a.model)) return run_mapet(a);
  Tensor images, labels;
  if (!a.batch.empty()) {
    io::TensorMap batch = io::load_safetensors(a.batch);
    images = require(batch, "images", a.batch, DType::f32, 4);
    labels = require(batch, "labels", a.batch, DType::i64, 1);
    if (labels.size(0) != images.size(0))
      throw Error("'" + a.batch + "': " + std::to_string(images.size(0)) + " images but " +
                  std::to_string(labels.size(0)) + " labels");
    if (images.size(2) != images.size(3)) throw Error("'" + a.batch + "': images must be square, got " + images.str());
  }
  const io::TensorMap w = a.weights.empty() ? io::TensorMap{} : train::classifier_weights(a.weights);
  const models::ModelOptions mo = model_options(a, image_size(a, images.defined() ? images.size(2) : -1, models::vit_config(a.model).img_size),
                                                images.defined() ? images.size(1) : 3, a.weights.empty() ? nullptr : &w);
  auto model = models::create_vit(a.model, mo);
  check_shape(model->config);
  if (a.weights.empty())
    model->init_weights(a.seed);
  else
    io::load_into(*model, w, "'" + a.weights + "'");
  if (!images.defined()) {  // a batch from the seed
    const models::VitConfig& vc = model->config;
    if (vc.num_classes < 1) throw Error("debug-step: the model has no classifier head (--num-classes)");
    images = random_images(a, vc.in_chans, vc.img_size);
    labels = Tensor::empty({a.batch_size}, DType::i64);
    Generator g(a.seed + 11);
    for (int64_t i = 0; i < a.batch_size; ++i) labels.data<int64_t>()[i] = int64_t(g.randint(uint64_t(vc.num_classes)));
  }
  model->to(a.dev);
  model->train(true);
  images = images.to(a.dev), labels = labels.to(a.dev);

  nn::Context ctx;
  Var x(images, false);
  Var logits = model->forward(x, ctx);
  Var loss = ops::cross_entropy(logits, labels);
  autograd::backward(loss);

  io::TensorMap out{{"loss", loss.value().to(Device::cpu).clone()},
                    {"logits", logits.value().to(Device::cpu).contiguous().clone()}};
  run_steps(a, *model, [&] { return ops::cross_entropy(model->forward(x, ctx), labels); }, loss, out);
}

}  // namespace

void register_debug_step(CLI::App& app) {
  auto a = std::make_shared<DebugStepArgs>();
  CLI::App* c = app.add_subcommand("debug-step", "One forward/backward of a model on a saved batch; writes loss, logits and all gradients");
  c->add_option("--model", a->model, "Model name, e.g. vit_standard_small_patch16_224")->required();
  c->add_option("--num-classes", a->num_classes, "Classifier outputs (default: the weights' head)");
  c->add_option("--img-size", a->img_size, "Image size (default: the batch's, else the named model's)");
  c->add_option("--patch-size", a->patch_size, "Patch size (default: the weights', else the named model's)");
  c->add_option("--embed-dim", a->embed_dim, "Width (default: the weights', else the named model's)");
  c->add_option("--depth", a->depth, "Blocks (default: the weights', else the named model's)");
  c->add_option("--num-heads", a->num_heads, "Attention heads (default: the named model's; not in the weights)");
  c->add_option("--gp", a->global_pool, "Global pool: token or avg (default: the weights': avg when they have fc_norm, no norm)");
  c->add_option("--weights", a->weights,
                "Model weights: safetensors (timm names), torch.save, or a training checkpoint (default: initialised "
                "from --seed)");
  c->add_option("--batch", a->batch,
                "Batch (.safetensors): images f32 [B,3,H,W] and labels i64 [B]; MaPeT: tokens i64 [B,P] and perm i64 "
                "[B,P] (mim: mask u8 [B,P]) (default: random, from --seed)");
  c->add_option("--batch-size", a->batch_size, "Images of the random batch (without --batch)");
  c->add_option("--seed", a->seed, "Weights and batch when not read from files");
  c->add_option("--out", a->out, "Output .safetensors: loss, logits, grad.<name> [, param.<name>]")->required();
  c->add_option("--objective", a->objective, "MaPeT models: mapet, pet or mim");
  c->add_option("--least-number", a->least_number, "MaPeT models: context tokens L (CLS included)");
  c->add_option("--vocab-size", a->vocab_size, "MaPeT models: visual tokens (default: from the weights' decoder)");
  c->add_option("--steps", a->steps, "AdamW steps to apply (betas 0.9/0.999, eps 1e-8)");
  c->add_option("--lr", a->lr, "AdamW learning rate");
  c->add_option("--weight-decay", a->weight_decay, "AdamW weight decay");
  a->device.add_to(c);
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
