// The run folder of a training command (pretrain, finetune): where its
// settings come from, a fresh start or an exact resume, metrics.jsonl, and the
// checkpoints that make the resume exact.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "apps/train/checkpoint.h"
#include "apps/train/metrics.h"
#include "apps/train/trainer.h"
#include "engine/rng.h"

namespace mapet::apps::train {

// Applies the YAML `config` (or, resuming without one, the resumed run's own
// config.yaml) under the command line, and sends --output to the resumed
// folder unless it was given. Returns the dest names given on the command line.
std::set<std::string> load_settings(CLI::App& cmd, const std::string& config, const std::string& resume);

// Of --total-batch and --accum-steps (options of `cmd`), the one from the
// stronger source decides the other (command line > config file > default);
// on a tie --total-batch, the quantity that matters. Data parallel:
// --total-batch = --batch-size (per rank) x --accum-steps x ranks. Both are written back, so
// the run's config.yaml holds what was used. `cli`: as load_settings returns.
void resolve_accumulation(CLI::App& cmd, const std::set<std::string>& cli, int batch_size, int64_t total_batch,
                          int64_t accum_steps);

class RunFolder {
 public:
  // A fresh run (refused if `output` already holds one) or, with `resume`
  // (a run folder or checkpoint file), the model, optimizer, schedule step and
  // `rng` restored from its checkpoint. Settings that differ from the
  // checkpoint's (except `cosmetic` keys) are printed as notes. Writes config.yaml.
  // Data parallel: only rank 0 touches the folder (save, metrics); every rank
  // then starts from its state (broadcast_start). A checkpoint of another
  // world size continues at the same optimizer step of the epoch.
  RunFolder(std::string output, const std::string& resume, const nn::Module& model, Trainer& trainer, Generator& rng,
            std::string config_text, int64_t accum_steps, const std::set<std::string>& cosmetic);

  TrainState& state() { return st_; }
  MetricsLog& metrics() { return *metrics_; }
  std::string path(const std::string& file) const { return output_ + "/" + file; }
  // The records a resumed run keeps from its metrics.jsonl (empty for a fresh run).
  std::vector<nlohmann::json> kept_records() const;
  // A training checkpoint (model, optimizer, state, config) as `file` in the folder (rank 0; a no-op elsewhere).
  void save(const std::string& file);
  // The error for a non-finite loss or gradient: where, and which checkpoint is the last good one.
  Error stopped(const NonFinite& e, int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch) const;

 private:
  std::string output_, config_text_;
  const nn::Module& model_;
  Trainer& trainer_;
  Generator& rng_;
  TrainState st_;
  bool writes_;
  int64_t accum_steps_;
  int64_t keep_metrics_ = -1;
  std::unique_ptr<MetricsLog> metrics_;
};

}  // namespace mapet::apps::train
