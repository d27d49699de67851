#include "apps/train/train_flags.h"

#include <cstdio>

#include "apps/train/config.h"
#include "engine/distributed/communicator.h"
#include "engine/precision.h"

namespace mapet::apps::train {

void TrainFlags::add_to(CLI::App* c) {
  c->add_option("-b,--batch-size", batch_size, "Images per forward pass (micro-batch)");
  c->add_option("--total-batch", total_batch, "Images per optimizer step: sets --accum-steps to total / batch size");
  c->add_option("--accum-steps", accum_steps, "Micro-batches per optimizer step (given alone, sets --total-batch)");
  c->add_option("--lr", lr, "Peak learning rate (AdamW)");
  c->add_option("--weight-decay", weight_decay);
  c->add_option("--opt-eps", opt_eps);
  c->add_option("--opt-betas", opt_betas)->expected(2);
  c->add_option("--epochs", epochs);
  c->add_option("--warmup-epochs", warmup_epochs);
  c->add_option("--warmup-lr", warmup_lr, "Learning rate at the start of the warm-up");
  c->add_option("--min-lr", min_lr, "Learning rate at the end of the cosine");
  c->add_option("--clip-grad", clip_grad, "Max global gradient norm (0: off)");
  c->add_option("--seed", seed, "Every random choice: weights, data order, augmentation, masks, drop path");
  c->add_flag("--amp", amp, "bf16 GEMMs where the CPU has AVX-512 BF16");
  c->add_option("-j,--workers", workers, "Decode threads (0: one per core)");
  c->add_flag("--strict", strict, "Stop at the first bad image instead of skipping it");
  c->add_option("--output", output, "Run folder");
  c->add_option("--resume", resume, "Continue the run in this folder (or from this checkpoint file)");
  c->add_option("--recovery-interval", recovery_interval,
                "Also update last.safetensors every N optimizer steps (0: epoch ends only)");
  c->add_option("--checkpoint-epochs", checkpoint_epochs,
                "Keep checkpoint-<epoch>.safetensors every N epochs (0: never)");
  c->add_option("--log-interval", log_interval, "Steps between progress lines when the output is not a terminal");
  c->add_flag("-q,--quiet", quiet, "Only epoch summaries (no progress line)");
}

TrainerConfig TrainFlags::trainer_config(int64_t steps_per_epoch) const {
  TrainerConfig tc;
  if (opt_betas.size() != 2) throw Error("--opt-betas takes two values");
  if (epochs < 1) throw Error("--epochs must be at least 1, got " + std::to_string(epochs));
  // A warm-up longer than the run is allowed: the lr then only rises (short trial runs of a long config).
  if (warmup_epochs < 0) throw Error("--warmup-epochs must be >= 0, got " + std::to_string(warmup_epochs));
  tc.adamw.lr = lr, tc.adamw.weight_decay = weight_decay, tc.adamw.eps = opt_eps;
  tc.adamw.beta1 = opt_betas[0], tc.adamw.beta2 = opt_betas[1];
  tc.schedule.base_lr = lr, tc.schedule.min_lr = min_lr, tc.schedule.warmup_lr = warmup_lr;
  tc.schedule.warmup_steps = warmup_epochs * steps_per_epoch, tc.schedule.total_steps = epochs * steps_per_epoch;
  tc.accum_steps = accum_steps;
  tc.clip_grad = clip_grad;
  return tc;
}

void TrainFlags::apply_amp() const {
  const AmpChoice c = configure_amp(amp);
  if (!c.note.empty()) std::printf("note: %s\n", c.note.c_str());
}

data::LoaderOptions TrainFlags::loader_options(const data::TransformFlags& tf) const {
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.transform = tf.config();
  lo.seed = seed;
  // Data parallel: this rank's shard of every epoch, decoded on its share of the machine's cores.
  lo.rank = dist::world().rank(), lo.world = dist::world().size();
  lo.workers = workers > 0 || lo.world == 1 ? workers : dist::threads_per_rank();
  lo.strict = strict;
  return lo;
}

int64_t TrainFlags::steps_per_epoch(const data::Loader& loader, const data::Dataset& ds) const {
  const int64_t steps = loader.batches_per_epoch() / accum_steps;
  if (steps == 0)
    throw Error("dataset '" + ds.source + "' has " + std::to_string(ds.size()) +
                " images: not enough for one optimizer step of " + std::to_string(batch_size * accum_steps) +
                " (--batch-size x --accum-steps)");
  return steps;
}

void ArchFlags::add_to(CLI::App* c) {
  c->add_option("--input-size", input_size, "3 S S: sets --img-size (timm)")->expected(3);
  c->add_option("--patch-size", patch_size, "Patch size (0: the model's)");
  c->add_option("--embed-dim", embed_dim, "Width (0: the model's)");
  c->add_option("--depth", depth, "Blocks (0: the model's)");
  c->add_option("--num-heads", num_heads, "Attention heads (0: the model's)");
  c->add_option("--drop-path", drop_path, "Stochastic depth rate");
}

void ArchFlags::apply_input_size(CLI::App& c) const {
  if (input_size.empty()) return;
  if (input_size.size() != 3 || input_size[0] != 3 || input_size[1] != input_size[2])
    throw Error("--input-size must be 3 S S (RGB, square)");
  set_option(c, "img_size", {std::to_string(input_size[1])});
}

const std::set<std::string>& cosmetic_keys() {
  static const std::set<std::string> keys = {"output",           "workers", "quiet", "log_interval", "recovery_interval",
                                             "checkpoint_epochs", "strict",  "validation_batch_size"};
  return keys;
}

}  // namespace mapet::apps::train
