// The flags every training command shares, with timm's train.py names: batch
// and accumulation, AdamW, the warm-up + cosine schedule, seed, --amp, the
// loader's workers and --strict, and the run folder's (--output, --resume,
// checkpoints, logging). Each command sets its own defaults before add_to.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "apps/train/trainer.h"
#include "data/loader.h"
#include "data/transform_flags.h"

namespace mapet::apps::train {

struct TrainFlags {
  std::string output, resume;
  int batch_size = 64;
  int64_t accum_steps = 1, total_batch = 0;
  float lr = 1e-3f, weight_decay = 0.05f, opt_eps = 1e-8f, warmup_lr = 1e-6f, min_lr = 1e-6f, clip_grad = 0.0f;
  std::vector<float> opt_betas{0.9f, 0.999f};
  int64_t epochs = 100, warmup_epochs = 0;
  uint64_t seed = 0;
  bool amp = false, quiet = false, strict = false;
  int workers = 0;
  int64_t log_interval = 20, recovery_interval = 0, checkpoint_epochs = 0;
  double recovery_minutes = 5;  // a run stopped mid-epoch loses at most this much work

  void add_to(CLI::App* c);
  // AdamW, the schedule (warm-up and total in optimizer steps), accumulation and clipping; checks the flags
  // it uses and the recovery ones. Refuses (Error naming the flag) values no run can use: negative rates,
  // betas outside [0, 1), ...
  TrainerConfig trainer_config(int64_t steps_per_epoch) const;
  // --epochs x steps_per_epoch, overflow-checked.
  int64_t total_steps(int64_t steps_per_epoch) const;
  // A warning when the warm-up is longer than the run (the lr then only rises
  // and never reaches --lr), else "".
  std::string warmup_warning() const;
  // --amp: bf16 GEMMs where the CPU has AVX-512 BF16 (a note otherwise).
  void apply_amp() const;
  // The training loader's options: batch size, the transform, seed, workers, --strict.
  data::LoaderOptions loader_options(const data::TransformFlags& tf) const;
  // Optimizer steps in one epoch of `loader` over `ds`; an error naming the
  // dataset when it cannot fill even one (batch size x accumulation steps).
  int64_t steps_per_epoch(const data::Loader& loader, const data::Dataset& ds) const;
};

// The ViT shape flags both training commands take (unset, 0: the named model's value),
// with timm's --input-size 3 S S as another way to say --img-size S.
struct ArchFlags {
  std::vector<int> input_size;
  int64_t patch_size = 0, embed_dim = 0, depth = 0, num_heads = 0;
  float drop_path = 0.1f;

  void add_to(CLI::App* c);
  // Call after the config file is applied: --input-size sets the command's --img-size, and a
  // shape flag given as 0 or less (on the command line or in the config) is an Error.
  void apply_input_size(CLI::App& c) const;
};

// Keys that do not change the trajectory: not worth a note when they differ on resume.
const std::set<std::string>& cosmetic_keys();

}  // namespace mapet::apps::train
