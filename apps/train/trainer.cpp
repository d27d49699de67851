#include "apps/train/trainer.h"

#include <chrono>
#include <cmath>
#include <string>

#include "apps/train/metrics.h"
#include "engine/distributed/grad_sync.h"
#include "engine/ops/elementwise.h"

namespace mapet::apps::train {

namespace {

// "nan" / "inf" / "-inf" as people write them (std::to_string gives "-nan" for some NaNs).
std::string show(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return std::to_string(v);
}

}  // namespace

namespace {

// The parameters that train: frozen ones (a linear probe's backbone) get no gradient, and AdamW's weight
// decay would still move them.
std::vector<nn::NamedParam> trainable(const nn::Module& model) {
  std::vector<nn::NamedParam> out;
  for (const nn::NamedParam& p : model.named_parameters())
    if (p.var.requires_grad()) out.push_back(p);
  if (out.empty()) throw Error("the model has no trainable parameters (all are frozen)");
  return out;
}

}  // namespace

Trainer::Trainer(const nn::Module& model, const TrainerConfig& c)
    : params_(trainable(model)), config_(c), opt_(params_, c.adamw) {
  if (c.accum_steps < 1) throw Error("accumulation steps must be >= 1, got " + std::to_string(c.accum_steps));
  if (c.data_parallel && dist::world().size() > 1) sync_ = std::make_unique<dist::GradSync>(dist::world(), params_);
  opt_.zero_grad();
}

Trainer::~Trainer() = default;

float Trainer::backward(const Var& loss) {
  const float v = loss.value().item();
  if (!std::isfinite(v)) {
    autograd::clear_tape();  // the graph of this micro-batch is never used
    throw NonFinite("loss is " + show(v) + " at step " + std::to_string(step_ + 1));
  }
  // The last micro-batch's backward starts the gradient all-reduce as it goes (data parallel).
  autograd::backward(config_.accum_steps == 1 ? loss : ops::scale(loss, 1.0f / static_cast<float>(config_.accum_steps)),
                     micro_ + 1 == config_.accum_steps ? sync_.get() : nullptr);
  ++micro_;
  return v;
}

StepStats Trainer::step() {
  if (micro_ != config_.accum_steps)
    throw Error("Trainer::step after " + std::to_string(micro_) + " micro-batches, expected " +
                std::to_string(config_.accum_steps));
  StepStats s;
  s.lr = lr();
  if (sync_) {
    sync_->finish();
    s.comm_wait = sync_->last_wait();
  }
  s.grad_norm = optim::clip_grad_norm(params_, config_.clip_grad);
  if (!std::isfinite(s.grad_norm))
    throw NonFinite("gradient norm is " + show(s.grad_norm) + " at step " + std::to_string(step_ + 1));
  opt_.step(s.lr);
  opt_.zero_grad();
  micro_ = 0;
  ++step_;
  return s;
}

TimedStep timed_step(Trainer& trainer, data::Loader& loader,
                     const std::function<Var(data::Batch& batch, int64_t k)>& micro) {
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  const auto start = clock::now();
  const int64_t accum = trainer.config().accum_steps;
  TimedStep r;
  double wait = 0;
  for (int64_t k = 0; k < accum; ++k) {
    const auto w0 = clock::now();
    data::Batch b;
    if (!loader.next(b)) throw Error("loader: the epoch ended before its last optimizer step");
    wait += since(w0);
    r.loss += trainer.backward(micro(b, k));
  }
  r.stats = trainer.step();
  r.loss /= double(accum);
  r.seconds = since(start);
  r.data_wait = wait / r.seconds;
  return r;
}

nlohmann::ordered_json step_record(const Trainer& trainer, int64_t epoch, double loss, const TimedStep& ts,
                                   int64_t images_per_step, int world_size, const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json r{{"step", trainer.steps_done()}, {"epoch", epoch}, {"loss", loss}};
  for (const auto& [k, v] : extra.items()) r[k] = v;
  r["lr"] = short_float(ts.stats.lr);
  r["grad_norm"] = ts.stats.grad_norm;
  r["images_per_s"] = double(images_per_step) / ts.seconds;
  r["data_wait"] = ts.data_wait;
  if (world_size > 1) r["comm_wait"] = ts.stats.comm_wait / ts.seconds;
  return r;
}

}  // namespace mapet::apps::train
