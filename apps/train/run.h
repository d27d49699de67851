// The run folder of a training command (pretrain, finetune): where its
// settings come from, a fresh start or an exact resume, metrics.jsonl, and the
// checkpoints that make the resume exact.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "apps/train/checkpoint.h"
#include "apps/train/folder_lock.h"
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
// on a tie --total-batch, the quantity that matters. Both are written back, so
// the run's config.yaml holds what was used. `cli`: as load_settings returns.
void resolve_accumulation(CLI::App& cmd, const std::set<std::string>& cli, int batch_size, int64_t total_batch,
                          int64_t accum_steps);

class RunFolder {
 public:
  // Locks `output` for this process (another run into it fails at once, see folder_lock.h), then
  // a fresh run (refused if `output` already holds one) or, with `resume`
  // (a run folder or checkpoint file), the model, optimizer, schedule step and
  // `rng` restored from its checkpoint. Settings that differ from the
  // checkpoint's (except `cosmetic` keys) are printed as notes. Writes config.yaml.
  //
  // Resuming a folder whose last checkpoint is damaged (checksum, counters, truncated) falls back, with a
  // note, to the previous one that every save of the last keeps (kPreviousCheckpoint).
  RunFolder(std::string output, const std::string& resume, const nn::Module& model, Trainer& trainer, Generator& rng,
            std::string config_text, int64_t accum_steps, int64_t steps_per_epoch, const std::set<std::string>& cosmetic);

  TrainState& state() { return st_; }
  MetricsLog& metrics() { return *metrics_; }
  std::string path(const std::string& file) const { return output_ + "/" + file; }
  // The records a resumed run keeps from its metrics.jsonl (empty for a fresh run).
  std::vector<nlohmann::json> kept_records() const;
  // A training checkpoint (model, optimizer, state, config) as `file` in the folder. Saving the last
  // checkpoint first keeps the one it replaces as the previous.
  void save(const std::string& file);
  // Recovery checkpoints inside an epoch, so a run stopped before an epoch ends
  // can be resumed: last.safetensors every `steps` optimizer steps and whenever
  // `minutes` have passed since the last checkpoint (0: not by that measure).
  void set_recovery(int64_t steps, double minutes);
  // Call after an optimizer step that does not end its epoch (state() updated):
  // writes last.safetensors when a recovery point is due.
  void recovery_point();
  // The error for a non-finite loss or gradient: where, and which checkpoint is the last good one.
  Error stopped(const NonFinite& e, int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch) const;

 private:
  std::unique_ptr<FolderLock> lock_;  // first member: held before anything in the folder is read or written
  std::string output_, config_text_;
  const nn::Module& model_;
  Trainer& trainer_;
  Generator& rng_;
  TrainState st_;
  int64_t keep_metrics_ = -1;
  int64_t accum_steps_, steps_per_epoch_;
  bool keep_last_ = true;  // false after resuming from the previous checkpoint: the last on disk is damaged
  std::unique_ptr<MetricsLog> metrics_;
  int64_t recovery_steps_ = 0;
  double recovery_seconds_ = 0;
  std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
};

}  // namespace mapet::apps::train
