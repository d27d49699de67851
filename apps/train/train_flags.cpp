#include "apps/train/train_flags.h"

#include <cmath>
#include <cstdio>

#include "apps/train/config.h"
#include "engine/checked.h"
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
                "Also update last.safetensors every N optimizer steps (0: not by step count)");
  c->add_option("--recovery-minutes", recovery_minutes,
                "Also update last.safetensors when this many minutes passed since the last one (0: not by time)");
  c->add_option("--checkpoint-epochs", checkpoint_epochs,
                "Keep checkpoint-<epoch>.safetensors every N epochs (0: never)");
  c->add_option("--log-interval", log_interval, "Steps between progress lines when the output is not a terminal");
  c->add_flag("-q,--quiet", quiet, "Only epoch summaries (no progress line)");
}

namespace {

// A flag's value (from the command line or the config file's key of the same name) that must be finite and >= 0.
void check_rate(float v, const char* flag) {
  if (!std::isfinite(v) || v < 0)
    throw Error(std::string(flag) + " must be a number >= 0, got " + std::to_string(v) +
                " (from the command line or the config key of that name)");
}

}  // namespace

int64_t TrainFlags::total_steps(int64_t steps_per_epoch) const {
  if (epochs < 1) throw Error("--epochs must be at least 1, got " + std::to_string(epochs));
  return checked_mul(epochs, steps_per_epoch, "--epochs x optimizer steps per epoch");
}

TrainerConfig TrainFlags::trainer_config(int64_t steps_per_epoch) const {
  TrainerConfig tc;
  if (opt_betas.size() != 2) throw Error("--opt-betas takes two values");
  for (float b : opt_betas)
    if (!(b >= 0 && b < 1)) throw Error("--opt-betas must be in [0, 1), got " + std::to_string(b));
  check_rate(lr, "--lr"), check_rate(weight_decay, "--weight-decay"), check_rate(warmup_lr, "--warmup-lr");
  check_rate(min_lr, "--min-lr"), check_rate(clip_grad, "--clip-grad");
  if (!(opt_eps > 0) || !std::isfinite(opt_eps)) throw Error("--opt-eps must be > 0, got " + std::to_string(opt_eps));
  // A warm-up longer than the run is allowed (short trial runs of a long config), with a warning.
  if (warmup_epochs < 0) throw Error("--warmup-epochs must be >= 0, got " + std::to_string(warmup_epochs));
  if (recovery_interval < 0) throw Error("--recovery-interval must be >= 0, got " + std::to_string(recovery_interval));
  if (recovery_minutes < 0) throw Error("--recovery-minutes must be >= 0, got " + std::to_string(recovery_minutes));
  tc.adamw.lr = lr, tc.adamw.weight_decay = weight_decay, tc.adamw.eps = opt_eps;
  tc.adamw.beta1 = opt_betas[0], tc.adamw.beta2 = opt_betas[1];
  tc.schedule.base_lr = lr, tc.schedule.min_lr = min_lr, tc.schedule.warmup_lr = warmup_lr;
  tc.schedule.warmup_steps = checked_mul(warmup_epochs, steps_per_epoch, "--warmup-epochs x optimizer steps per epoch");
  tc.schedule.total_steps = total_steps(steps_per_epoch);
  tc.accum_steps = accum_steps;
  tc.clip_grad = clip_grad;
  return tc;
}

std::string TrainFlags::warmup_warning() const {
  if (warmup_epochs <= epochs) return "";
  // The linear warm-up from --warmup-lr stops at epochs / warmup_epochs of the way to --lr.
  const double end_lr = warmup_lr + (lr - warmup_lr) * double(epochs) / double(warmup_epochs);
  char b[320];
  std::snprintf(b, sizeof b,
                "warning: --warmup-epochs %lld is longer than the run (--epochs %lld): the learning rate only rises, "
                "to %.3g at the end instead of --lr %.3g; give --warmup-epochs %lld or fewer",
                (long long)warmup_epochs, (long long)epochs, end_lr, double(lr), (long long)epochs);
  return b;
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
  lo.workers = workers;
  lo.strict = strict;
  return lo;
}

int64_t TrainFlags::steps_per_epoch(const data::Loader& loader, const data::Dataset& ds) const {
  if (accum_steps < 1) throw Error("--accum-steps must be >= 1, got " + std::to_string(accum_steps));
  const int64_t steps = loader.batches_per_epoch() / accum_steps;
  if (steps == 0)
    throw Error("dataset '" + ds.source + "' has " + std::to_string(ds.size()) +
                " images: not enough for one optimizer step of " +
                std::to_string(checked_mul(int64_t{batch_size}, accum_steps, "--batch-size x --accum-steps")) +
                " (--batch-size x --accum-steps)");
  return steps;
}

void ArchFlags::add_to(CLI::App* c) {
  c->add_option("--input-size", input_size, "3 S S: sets --img-size (timm)")->expected(3);
  // Unset (written as null in config.yaml): the model's value. Given, they must be >= 1 (apply_input_size checks).
  c->add_option("--patch-size", patch_size, "Patch size (default: the model's)")->default_str("");
  c->add_option("--embed-dim", embed_dim, "Width (default: the model's)")->default_str("");
  c->add_option("--depth", depth, "Blocks (default: the model's)")->default_str("");
  c->add_option("--num-heads", num_heads, "Attention heads (default: the model's)")->default_str("");
  c->add_option("--drop-path", drop_path, "Stochastic depth rate");
}

void ArchFlags::apply_input_size(CLI::App& c) const {
  // 0 used to mean "the model's value" silently; now only leaving the key out (or null) does.
  for (const auto& [flag, v] : {std::pair<const char*, int64_t>{"--patch-size", patch_size}, {"--embed-dim", embed_dim},
                                {"--depth", depth}, {"--num-heads", num_heads}})
    if (c.get_option(flag)->count() > 0 && v < 1)
      throw Error(std::string(flag) + " must be at least 1, got " + std::to_string(v) +
                  " (leave it out, or null in a config file, for the model's value)");
  if (input_size.empty()) return;
  if (input_size.size() != 3 || input_size[0] != 3 || input_size[1] != input_size[2])
    throw Error("--input-size must be 3 S S (RGB, square)");
  set_option(c, "img_size", {std::to_string(input_size[1])});
}

const std::set<std::string>& cosmetic_keys() {
  static const std::set<std::string> keys = {"output",           "workers", "quiet", "log_interval", "recovery_interval",
                                             "recovery_minutes", "checkpoint_epochs", "strict", "validation_batch_size"};
  return keys;
}

}  // namespace mapet::apps::train
