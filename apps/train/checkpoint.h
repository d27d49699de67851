// Training checkpoints: everything needed to continue a run exactly as if it
// had never stopped, in one safetensors file written atomically (temp file,
// fsync, rename: a kill at any moment leaves the previous checkpoint intact).
//
// Tensors: `model.<name>` (every parameter, the names of DESIGN.md),
// `optimizer.exp_avg.<name>` and `optimizer.exp_avg_sq.<name>` (AdamW's m
// and v, PyTorch's names). Metadata (strings): format, the optimizer step,
// the data position, the drop-path generator state, the metrics.jsonl length
// and the run's config (YAML). Loading refuses, naming the file, anything
// missing, extra or of the wrong shape.
//
// Damage: a checksum (CRC-32 of every tensor's bytes and of the metadata)
// and counters that must agree (step = epoch x steps per epoch + position /
// accumulation) are checked before anything is loaded; a damaged checkpoint
// is refused naming the file. The run folder keeps the previous checkpoint
// beside the last (kPreviousCheckpoint), for --resume to fall back on.
#pragma once
#include <cstdint>
#include <string>

#include "engine/nn/module.h"
#include "engine/optim/adamw.h"

namespace mapet::apps::train {

struct TrainState {
  int64_t step = 0;                       // optimizer steps done: the schedule position
  int64_t epoch = 0;                      // the epoch to continue in
  int64_t position = 0;                   // the next loader batch of that epoch (always an optimizer-step boundary)
  uint64_t rng_seed = 0, rng_offset = 0;  // the drop-path / dropout Generator
  uint64_t metrics_bytes = 0;             // length of metrics.jsonl when saved: resuming cuts it back to this
  int64_t steps_per_epoch = 0;            // of the run that saved it (0: not recorded, older checkpoints)
  int64_t accum_steps = 0;                // its micro-batches per optimizer step (0: not recorded)
  int64_t world_size = 1;                 // ranks of the run that saved it (data parallel; 1 when not recorded)
};

void save_checkpoint(const std::string& path, const nn::Module& model, optim::AdamW& opt, const TrainState& state,
                     const std::string& config_yaml);

struct Checkpoint {
  TrainState state;
  std::string config_yaml;  // the settings of the run that wrote it
};

// Loads into model and optimizer (which must have been built the same way).
// A damaged file (checksum, inconsistent counters) is refused before any copy.
Checkpoint load_checkpoint(const std::string& path, const nn::Module& model, optim::AdamW& opt);

// The optimizer step a checkpoint was saved at (from its metadata).
int64_t checkpoint_step(const std::string& path);

// `dir_or_file`: a checkpoint file, or a run folder (its last checkpoint).
std::string checkpoint_path(const std::string& dir_or_file);
inline constexpr const char* kLastCheckpoint = "last.safetensors";
inline constexpr const char* kPreviousCheckpoint = "previous.safetensors";  // the last one before it

}  // namespace mapet::apps::train
