// One optimizer step assembled from micro-batches, as timm's train loop does
// it: each micro-batch's loss is back-propagated divided by the number of
// micro-batches (gradients add up to those of the mean over the large batch),
// then the global gradient norm is clipped, AdamW steps at the scheduled lr,
// and the gradients are cleared. A loss or gradient norm that is NaN or Inf
// stops the step before any parameter changes (NonFinite).
//
// Data parallel (several ranks in dist::world()): the last micro-batch's
// backward also all-reduces the gradients (dist::GradSync), and clipping and
// AdamW see their mean over the global batch.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "engine/nn/module.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"

namespace mapet::dist {
class GradSync;
}

namespace mapet::apps::train {

struct TrainerConfig {
  optim::AdamWConfig adamw;
  optim::CosineSchedule schedule;  // indexed by optimizer step
  int64_t accum_steps = 1;         // micro-batches per optimizer step
  double clip_grad = 0.0;          // max global gradient norm; <= 0: no clipping
  bool data_parallel = true;       // average gradients over dist::world() when it has several ranks
};

// What went wrong, for the caller to add where it happened and what was kept.
struct NonFinite : Error {
  using Error::Error;
};

struct StepStats {
  float lr = 0;
  double grad_norm = 0;  // before clipping
  double comm_wait = 0;  // seconds the step waited for the gradient all-reduce (data parallel)
};

class Trainer {
 public:
  Trainer(const nn::Module& model, const TrainerConfig& c);
  ~Trainer();

  // Back-propagates one micro-batch's (mean) loss; returns its value.
  float backward(const Var& loss);
  // Clips, updates and clears the gradients; call after accum_steps backward()s.
  StepStats step();

  int64_t steps_done() const { return step_; }
  void set_steps_done(int64_t s) { step_ = s; }  // where the schedule stands (resume: the checkpoint's step)
  float lr() const { return config_.schedule.lr_at(step_); }  // the lr of the next step
  optim::AdamW& optimizer() { return opt_; }
  const TrainerConfig& config() const { return config_; }
  dist::GradSync* grad_sync() { return sync_.get(); }  // null in one process

 private:
  std::vector<nn::NamedParam> params_;
  TrainerConfig config_;
  optim::AdamW opt_;
  std::unique_ptr<dist::GradSync> sync_;
  int64_t step_ = 0, micro_ = 0;
};

// One optimizer step as the training commands take it: Trainer::accum_steps
// micro-batches from `loader` (an epoch that runs dry is an Error), each
// handed to `micro` (k = 0, 1, ...), whose loss is back-propagated; then
// Trainer::step. NonFinite passes through for the caller to report.
struct TimedStep {
  double loss = 0;       // mean of the micro-batch losses
  double seconds = 0;    // wall time of the whole step
  double data_wait = 0;  // share of it spent blocked on the loader
  StepStats stats;
};
TimedStep timed_step(Trainer& trainer, data::Loader& loader,
                     const std::function<Var(data::Batch& batch, int64_t k)>& micro);

// The metrics.jsonl line of such a step: step, epoch, loss (as logged), then
// `extra`'s fields (pretrain's token_acc), lr, grad_norm, images_per_s and
// data_wait, and on several ranks comm_wait (the share of the step).
nlohmann::ordered_json step_record(const Trainer& trainer, int64_t epoch, double loss, const TimedStep& ts,
                                   int64_t images_per_step, int world_size, const nlohmann::ordered_json& extra = {});

}  // namespace mapet::apps::train
