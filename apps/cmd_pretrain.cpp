// mapet pretrain DATA --tokens STORE [--config FILE.yaml] [flags]
//
// MaPeT pre-training (or the PeT / MIM baselines) of a ViT on an image folder
// whose visual tokens are in a token store. Flags and YAML keys are timm's
// train.py names; the defaults are the official pre-training config's (also in
// configs/). Large batches on a small machine come from gradient accumulation.
//
// The run folder (--output) gets config.yaml (the settings actually used),
// metrics.jsonl, loss.png / loss.svg (redrawn after every epoch), last.safetensors
// (a training checkpoint: at every epoch's end, and inside an epoch every
// --recovery-minutes (default 5) and every --recovery-interval steps),
// checkpoint-<epoch>.safetensors (every --checkpoint-epochs epochs) and, at
// the end, model.safetensors (the model's parameters only, DESIGN.md names).
//
// Resuming (--resume DIR) gives exactly the losses of an uninterrupted run:
// the data order and augmentation are keyed by (seed, epoch, sample), each
// sample's permutation by (seed, the loader's per-sample seed), and the
// checkpoint holds the weights, AdamW's moments and step, the schedule
// position, the drop-path generator and the data position.
//
// Data parallel: `mpirun -np N mapet pretrain ...` (or srun) trains on N ranks,
// each on its shard of every epoch at --batch-size images per micro-batch;
// gradients are averaged as the backward goes (Trainer), rank 0 alone writes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/commands.h"
#include "apps/train/checkpoint.h"
#include "apps/train/config.h"
#include "apps/train/data_parallel.h"
#include "apps/train/device.h"
#include "apps/train/meter.h"
#include "apps/train/metrics.h"
#include "apps/train/plot.h"
#include "apps/train/run.h"
#include "apps/train/train_flags.h"
#include "apps/train/trainer.h"
#include "data/loader.h"
#include "data/splits.h"
#include "data/transform_flags.h"
#include "engine/cuda/runtime.h"
#include "engine/io/safetensors.h"
#include "engine/threads.h"
#include "engine/precision.h"
#include "models/mapet.h"
#include "models/permutation.h"

namespace mapet::apps {

namespace {

namespace fs = std::filesystem;

struct PretrainArgs {
  std::string data_dir, config, train_split = "train", tokens;
  std::string model = "mapet_base_patch16_224", objective = "mapet";
  train::ArchFlags arch;
  float drop = 0.0f, layer_scale_init_value = 0.1f;
  int64_t least_number = 50, num_mask_patches = 75, num_tokens = 0;
  bool blockwise_perm = false;
  train::TrainFlags t;
  train::DeviceFlag device;
  data::TransformFlags tf;

  PretrainArgs() {
    // The official pre-training config (configs/).
    t.output = "runs/pretrain";
    t.total_batch = 2048;
    t.lr = 1.5e-3f, t.weight_decay = 0.05f, t.warmup_lr = 1e-6f, t.min_lr = 1e-5f, t.clip_grad = 3.0f;
    t.epochs = 300, t.warmup_epochs = 10, t.checkpoint_epochs = 10;
    // Its geometry: the whole (centred, square) image, no flip.
    tf.scale = {1.0, 1.0};
    tf.ratio = {1.0, 1.0};
    tf.cfg.hflip = 0.0;
    tf.color_jitter = {0.4f};
  }
};


std::string str(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// A count given for 224 / 16 (e.g. 50 context tokens of 197, 75 masked patches of 196) scaled to this grid.
int64_t scaled(int64_t count, int64_t of, int64_t here) {
  return std::max<int64_t>(1, std::llround(double(count) * double(here) / double(of)));
}

struct Plan {
  models::MapetConfig model;
  std::string dataset;  // folder or CSV actually read
  std::string config_text;
};

// Everything that follows from the flags, the config file and the token store;
// derived values are written back into the options so config.yaml shows them.
// cli: the keys given on the command line (they beat the config file).
Plan resolve(PretrainArgs& a, CLI::App& c, const std::set<std::string>& cli, const data::TokenStore& store) {
  Plan p;
  models::MapetConfig& m = p.model;
  m = models::mapet_config(a.model);
  m.objective = models::parse_objective(a.objective);
  a.arch.apply_input_size(c);
  m.vit.img_size = a.tf.cfg.size;
  m.vit.in_chans = 3;
  if (a.arch.patch_size > 0) m.vit.patch_size = a.arch.patch_size;
  if (a.arch.embed_dim > 0) m.vit.embed_dim = a.arch.embed_dim;
  if (a.arch.depth > 0) m.vit.depth = a.arch.depth;
  if (a.arch.num_heads > 0) m.vit.num_heads = a.arch.num_heads;
  m.vit.drop_path_rate = a.arch.drop_path;
  m.vit.drop_rate = a.drop;
  m.vit.layer_scale_init = a.layer_scale_init_value;
  if (m.vit.img_size % m.vit.patch_size != 0)
    throw Error("--img-size " + std::to_string(m.vit.img_size) + " is not a multiple of --patch-size " +
                std::to_string(m.vit.patch_size));
  if (m.vit.embed_dim % m.vit.num_heads != 0)
    throw Error("--embed-dim " + std::to_string(m.vit.embed_dim) + " is not a multiple of --num-heads " +
                std::to_string(m.vit.num_heads));
  const int64_t P = m.vit.num_patches(), T = P + 1;

  // The defaults (50 of 197 tokens, 75 of 196 patches) are for 224 / 16: scale them when the grid differs.
  if (c.get_option("--least-number")->count() == 0 && T != 197)
    train::set_option(c, "least_number", {std::to_string(scaled(50, 197, T))});
  if (c.get_option("--num-mask-patches")->count() == 0 && P != 196)
    train::set_option(c, "num_mask_patches", {std::to_string(scaled(75, 196, P))});
  m.least_number = a.least_number;
  m.mim_mask_count = a.num_mask_patches;
  if (m.mim_mask_count < 1 || m.mim_mask_count >= P)
    throw Error("--num-mask-patches " + std::to_string(m.mim_mask_count) + " must be in [1, " + std::to_string(P - 1) +
                "]");

  const data::TokenStoreHeader& h = store.header();
  if (int64_t(h.tokens_per_image) != P)
    throw Error("token store '" + a.tokens + "' holds " + std::to_string(h.tokens_per_image) +
                " tokens per image, but --img-size " + std::to_string(m.vit.img_size) + " / --patch-size " +
                std::to_string(m.vit.patch_size) + " gives " + std::to_string(P) + " patches");
  if (a.num_tokens == 0) train::set_option(c, "num_tokens", {std::to_string(h.vocab_size)});
  if (a.num_tokens < int64_t(h.vocab_size))
    throw Error("--num-tokens " + std::to_string(a.num_tokens) + " is smaller than the vocabulary of token store '" +
                a.tokens + "' (" + std::to_string(h.vocab_size) + ")");
  m.vocab_size = a.num_tokens;

  train::resolve_accumulation(c, cli, a.t.batch_size, a.t.total_batch, a.t.accum_steps);

  p.dataset = a.data_dir;
  if (!a.train_split.empty() && fs::is_directory(a.data_dir)) p.dataset = data::split_folder(a.data_dir, a.train_split);
  p.config_text = train::config_yaml(c, {"config", "resume"});
  return p;
}

// The permutation (mapet, pet) or block mask (mim) of every sample, from the
// run seed and the loader's per-sample seed: the same whatever the batch or resume point. Drawn on the CPU,
// then the whole batch goes to `dev`.
models::MapetBatch mapet_batch(const data::Batch& b, const models::MapetConfig& m, bool blockwise, uint64_t seed,
                               train::BatchMover& to_device) {
  models::MapetBatch mb;
  mb.images = b.images;
  mb.tokens = b.tokens;
  const int64_t B = b.images.size(0), grid = m.vit.grid(), P = grid * grid;
  const int64_t* seeds = b.seeds.data<int64_t>();
  if (m.objective == common::Objective::mim) {
    mb.mask = Tensor::empty({B, P}, DType::u8);
    const int64_t min_patches = scaled(16, 196, P);  // BEiT's smallest block, scaled to the grid
    for (int64_t j = 0; j < B; ++j) {
      std::vector<uint8_t> mask =
          models::sample_block_mask(grid, m.mim_mask_count, seed, uint64_t(seeds[j]), min_patches);
      std::copy(mask.begin(), mask.end(), mb.mask.data<uint8_t>() + j * P);
    }
  } else {
    mb.perm = Tensor::empty({B, P}, DType::i64);
    models::PermutationConfig pc;
    pc.grid = grid, pc.least_number = m.least_number, pc.blockwise = blockwise;
    for (int64_t j = 0; j < B; ++j) {
      std::vector<int32_t> order = models::sample_permutation(pc, seed, uint64_t(seeds[j]));
      std::copy(order.begin(), order.end(), mb.perm.data<int64_t>() + j * P);
    }
  }
  const std::vector<Tensor> moved = to_device({mb.images, mb.tokens, mb.mask, mb.perm});
  mb.images = moved[0], mb.tokens = moved[1], mb.mask = moved[2], mb.perm = moved[3];
  return mb;
}

void draw_curves(const std::string& out) {
  train::write_figure(train::metrics_figure(train::read_metrics(out + "/metrics.jsonl"),
                                            {{"loss", "loss"}, {"token_acc", "token accuracy"}, {"lr", "lr", false}}),
                      out + "/loss");
}

void run(PretrainArgs& a, CLI::App& c) {
  // Settings: the config file (or, resuming, the run's own config.yaml) under the command line.
  const std::set<std::string> cli = train::load_settings(c, a.config, a.t.resume);
  const train::DeviceChoice dev = a.device.resolve();  // before anything is read or written: a wrong --device stops here
  if (a.data_dir.empty()) throw Error("no DATA: give the image folder (or data_dir in --config)");
  if (a.tokens.empty()) throw Error("--tokens STORE is required: the visual tokens of DATA (see `mapet tokenize`)");

  data::TokenStore store(a.tokens);
  const Plan plan = resolve(a, c, cli, store);
  const models::MapetConfig& mc = plan.model;
  const int64_t accum = a.t.accum_steps;

  a.t.apply_amp();

  data::Dataset ds = data::load_dataset(plan.dataset);
  data::LoaderOptions lo = a.t.loader_options(a.tf);
  lo.tokens = &store;
  data::Loader loader(ds, lo);
  const int64_t steps_per_epoch = a.t.steps_per_epoch(loader, ds);
  const int64_t total_steps = a.t.total_steps(steps_per_epoch);

  models::MapetModel model(mc);
  model.init_weights(a.t.seed);  // on the CPU: the same weights on every device
  model.to(dev.device);          // before the optimizer: its moments live where the parameters do
  model.train(true);
  train::Trainer trainer(model, a.t.trainer_config(steps_per_epoch));
  Generator drop_rng(a.t.seed + 1);  // drop path / dropout; its position is part of the checkpoint
  nn::Context ctx{&drop_rng};

  train::RunFolder run(a.t.output, a.t.resume, model, trainer, drop_rng, plan.config_text, accum, steps_per_epoch,
                       train::cosmetic_keys());
  run.set_recovery(a.t.recovery_interval, a.t.recovery_minutes);
  train::TrainState& st = run.state();

  std::printf(
      "%s (%s): %lld x %lld images, patch %lld, dim %lld, depth %lld, heads %lld, %lld visual tokens: "
      "%.2fM parameters\n",
      a.model.c_str(), a.objective.c_str(), (long long)mc.vit.img_size, (long long)mc.vit.img_size,
      (long long)mc.vit.patch_size, (long long)mc.vit.embed_dim, (long long)mc.vit.depth, (long long)mc.vit.num_heads,
      (long long)mc.vocab_size, model.num_parameters() / 1e6);
  dist::Communicator& world = dist::world();
  std::printf("data: %s, %zu images; %lld steps/epoch of %d x %lld images%s; %s\n", plan.dataset.c_str(), ds.size(),
              (long long)steps_per_epoch, a.t.batch_size, (long long)accum,
              world.size() > 1 ? (" x " + std::to_string(world.size()) + " ranks").c_str() : "",
              (compute_summary() + train::ranks_summary(world)).c_str());
  if (!dev.on_cpu()) std::printf("device: %s, %s\n", dev.name.c_str(), device::describe().c_str());
  if (const std::string w = a.t.warmup_warning(); !w.empty()) std::printf("%s\n", w.c_str());
  std::fflush(stdout);

  // Epoch means continue across a resume: the steps already logged count too.
  double epoch_loss = 0, epoch_acc = 0;
  int64_t epoch_steps = 0;
  for (const nlohmann::json& r : run.kept_records())
    if (r.contains("step") && r.value("epoch", int64_t(-1)) == st.epoch)
      epoch_loss += r.value("loss", 0.0), epoch_acc += r.value("token_acc", 0.0), ++epoch_steps;

  train::TrainMeter meter(st.step, total_steps, a.t.log_interval, a.t.quiet);
  int64_t images = 0;
  const int64_t images_per_step = int64_t(a.t.batch_size) * accum * world.size();
  train::BatchMover to_device(dev.device);
  for (int64_t epoch = st.epoch; epoch < a.t.epochs; ++epoch) {
    const int64_t first = epoch == st.epoch ? st.position : 0;
    loader.start_epoch(epoch, first);
    const double epoch_start = meter.elapsed();
    for (int64_t s = first / accum; s < steps_per_epoch; ++s) {
      double acc = 0;
      train::TimedStep ts;
      try {
        ts = train::timed_step(trainer, loader, [&](data::Batch& b, int64_t) {
          models::MapetOutput o = model.forward(mapet_batch(b, mc, a.blockwise_perm, a.t.seed, to_device), ctx);
          acc += o.token_accuracy;
          return o.loss;
        });
      } catch (const train::NonFinite& e) {
        throw run.stopped(e, epoch, s + 1, steps_per_epoch);
      }
      train::average_over_ranks(world, {&ts.loss, &acc},
                                "the mean loss of step " + std::to_string(trainer.steps_done()));
      // The loss as logged (a float, shortest form): what a resumed run reads back for its epoch mean.
      const double loss = train::short_float(float(ts.loss));
      const train::StepStats& ss = ts.stats;
      acc /= double(accum);
      images += images_per_step;
      run.metrics().write(
          train::step_record(trainer, epoch, loss, ts, images_per_step, world.size(), {{"token_acc", acc}}));
      epoch_loss += loss, epoch_acc += acc, ++epoch_steps;
      char fields[160];
      std::snprintf(fields, sizeof fields, "epoch %lld/%lld | loss %.4f (mean %.4f) | tok acc %.1f%% | lr %.2e",
                    (long long)epoch + 1, (long long)a.t.epochs, loss, epoch_loss / double(epoch_steps), 100 * acc,
                    ss.lr);
      const std::string on = train::device_field(dev.device);
      meter.step(trainer.steps_done(), images, on.empty() ? fields : std::string(fields) + " | " + on);
      st.epoch = epoch, st.position = (s + 1) * accum;
      if (s + 1 < steps_per_epoch) run.recovery_point();
    }
    const double epoch_secs = meter.elapsed() - epoch_start;
    const double mean_loss = epoch_loss / double(std::max<int64_t>(1, epoch_steps)),
                 mean_acc = epoch_acc / double(std::max<int64_t>(1, epoch_steps));
    run.metrics().write(
        {{"epoch", epoch}, {"train_loss", mean_loss}, {"train_token_acc", mean_acc}, {"epoch_seconds", epoch_secs}});
    epoch_loss = epoch_acc = 0, epoch_steps = 0;
    st.epoch = epoch + 1, st.position = 0;  // continue at the next epoch's start
    run.save(train::kLastCheckpoint);
    if (a.t.checkpoint_epochs > 0 && (epoch + 1) % a.t.checkpoint_epochs == 0)
      run.save("checkpoint-" + std::to_string(epoch + 1) + ".safetensors");
    if (world.rank() == 0) draw_curves(a.t.output);
    meter.line("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(a.t.epochs) + ": loss " + str(mean_loss) +
               ", token accuracy " + str(100 * mean_acc) + "% (" + str(epoch_secs) + " s, " +
               str(meter.images_per_second()) + " img/s)");
  }
  if (world.rank() == 0) io::save_safetensors(a.t.output + "/model.safetensors", io::state_dict(model));
  std::printf("wrote %s/model.safetensors, metrics.jsonl, loss.png, loss.svg (%.0f s)\n", a.t.output.c_str(),
              meter.elapsed());
  if (!dev.on_cpu()) std::printf("%s\n", train::memory_summary(dev.device).c_str());  // the CPU prints as before
}

}  // namespace

void register_pretrain(CLI::App& app) {
  auto a = std::make_shared<PretrainArgs>();
  CLI::App* c =
      app.add_subcommand("pretrain", "MaPeT pre-training (or PeT / MIM) of a ViT on images and their visual tokens");
  c->option_defaults()->always_capture_default();
  // As argparse: a repeated flag's last value wins (so scripts can append overrides).
  c->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  c->add_option("data_dir", a->data_dir, "Image folder (DATA/<train-split> when it exists), or a CSV of path,label");
  c->add_option("-c,--config", a->config, "YAML file of defaults (timm's keys); flags given here override it");
  c->add_option("--train-split", a->train_split, "Sub-folder of DATA to train on (train: also training), when DATA has split folders");
  c->add_option("--tokens", a->tokens, "Token store of DATA's visual tokens (mapet tokenize)");
  c->add_option("--num-tokens", a->num_tokens, "Visual vocabulary size (0: the token store's)");
  c->add_option("--model", a->model, "mapet_{tiny,small,base}_patch16_224");
  c->add_option("--objective", a->objective, "mapet, pet or mim")->check(CLI::IsMember({"mapet", "pet", "mim"}));
  c->add_option("--least-number", a->least_number, "Context tokens L, CLS included (scaled to the grid unless given)");
  c->add_option("--num-mask-patches", a->num_mask_patches,
                "mim: patches masked per image (scaled to the grid unless given)");
  c->add_flag("--blockwise-perm", a->blockwise_perm, "Permute 2x2 blocks of patches instead of single patches");
  a->arch.add_to(c);
  c->add_option("--drop", a->drop, "Dropout after the position embedding");
  c->add_option("--layer-scale-init-value", a->layer_scale_init_value, "Layer scale init");
  a->t.add_to(c);
  a->device.add_to(c);
  a->tf.add_to(c);
  c->callback([a, c] { run(*a, *c); });
}

}  // namespace mapet::apps
