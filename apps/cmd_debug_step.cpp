// mapet debug-step: one forward/backward (and optionally a few AdamW steps) of
// a named model on a batch from a file, with every gradient written out, so the
// engine can be checked tensor by tensor against another framework.
#include <cstdio>

#include "apps/commands.h"
#include "engine/io/safetensors.h"
#include "engine/ops/loss.h"
#include "engine/optim/adamw.h"
#include "models/registry.h"

namespace mapet::apps {

namespace {

struct DebugStepArgs {
  std::string model, weights, batch, out, global_pool = "token";
  int64_t num_classes = -1, patch_size = -1, steps = 0;
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

void run(const DebugStepArgs& a) {
  io::TensorMap batch = io::load_safetensors(a.batch);
  Tensor images = require(batch, "images", a.batch, DType::f32, 4);
  Tensor labels = require(batch, "labels", a.batch, DType::i64, 1);
  if (labels.size(0) != images.size(0))
    throw Error("'" + a.batch + "': " + std::to_string(images.size(0)) + " images but " +
                std::to_string(labels.size(0)) + " labels");
  if (images.size(2) != images.size(3)) throw Error("'" + a.batch + "': images must be square, got " + images.str());

  models::ModelOptions o;
  o.num_classes = a.num_classes;
  o.img_size = images.size(2);
  o.in_chans = images.size(1);
  o.patch_size = a.patch_size;
  o.drop_path_rate = 0.0f;  // deterministic: no dropout, no drop-path
  o.global_pool = a.global_pool;
  auto model = models::create_vit(a.model, o);
  io::load_into(*model, io::load_safetensors(a.weights), "'" + a.weights + "'");
  model->train(true);

  nn::Context ctx;
  Var x(images, false);
  Var logits = model->forward(x, ctx);
  Var loss = ops::cross_entropy(logits, labels);
  autograd::backward(loss);

  io::TensorMap out;
  out["loss"] = loss.value().clone();
  out["logits"] = logits.value().clone();
  for (const nn::NamedParam& p : model->named_parameters()) {
    if (!p.var.grad().defined()) throw Error("debug-step: parameter '" + p.name + "' received no gradient");
    out["grad." + p.name] = p.var.grad().contiguous().clone();
  }
  std::printf("loss %.6f\n", loss.value().item());

  if (a.steps > 0) {
    optim::AdamWConfig oc;
    oc.lr = a.lr;
    oc.weight_decay = a.weight_decay;
    optim::AdamW opt(model->named_parameters(), oc);
    for (int64_t s = 0; s < a.steps; ++s) {
      if (s > 0) {  // the first step uses the gradients computed above
        opt.zero_grad();
        Var l = ops::cross_entropy(model->forward(x, ctx), labels);
        autograd::backward(l);
        std::printf("step %lld loss %.6f\n", static_cast<long long>(s), l.value().item());
      }
      opt.step();
    }
    for (const nn::NamedParam& p : model->named_parameters()) out["param." + p.name] = p.var.value().clone();
  }
  io::save_safetensors(a.out, out);
  std::printf("wrote %s (%zu tensors)\n", a.out.c_str(), out.size());
}

}  // namespace

void register_debug_step(CLI::App& app) {
  auto a = std::make_shared<DebugStepArgs>();
  CLI::App* c = app.add_subcommand("debug-step", "One forward/backward of a model on a saved batch; writes loss, logits and all gradients");
  c->add_option("--model", a->model, "Model name, e.g. vit_standard_small_patch16_224")->required();
  c->add_option("--num-classes", a->num_classes, "Classifier outputs (default: the model's)");
  c->add_option("--patch-size", a->patch_size, "Patch size (default: the model's)");
  c->add_option("--gp", a->global_pool, "Global pool: token or avg");
  c->add_option("--weights", a->weights, "Model weights (.safetensors, timm names)")->required();
  c->add_option("--batch", a->batch, "Batch (.safetensors): images f32 [B,3,H,W], labels i64 [B]")->required();
  c->add_option("--out", a->out, "Output .safetensors: loss, logits, grad.<name> [, param.<name>]")->required();
  c->add_option("--steps", a->steps, "AdamW steps to apply (betas 0.9/0.999, eps 1e-8)");
  c->add_option("--lr", a->lr, "AdamW learning rate");
  c->add_option("--weight-decay", a->weight_decay, "AdamW weight decay");
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
