// mapet finetune DATA --model vit_standard_{tiny,small,base}_patch16_224 --pretrained WEIGHTS [flags]
//
// Fine-tunes a ViT classifier from MaPeT (or PeT / MIM) pre-trained weights,
// or trains it from scratch when --pretrained is not given, with the BEiT /
// timm fine-tuning recipe: global average pooling with fc_norm and a new head,
// layer-wise lr decay, label smoothing, mixup / cutmix, drop path, linear
// warm-up then cosine. Flags and YAML keys are timm's train.py names.
//
// --pretrained takes a pre-training run's model.safetensors, one of its
// training checkpoints, or a torch.save file of the official releases; the
// decoder and mask token are dropped, and so is the pre-training `norm` (an
// avg-pool classifier normalises with a fresh fc_norm instead, as in BEiT).
//
// The run folder (--output) gets what `mapet pretrain` writes (config.yaml,
// metrics.jsonl, curves, last.safetensors, resume with --resume) plus the
// validation top-1 / top-5 / loss after every epoch, model_best.safetensors
// (the classifier with the best validation top-1), model.safetensors (the
// last) and results.json (best and final accuracy).
//
// --linear-probe is the other evaluation protocol of self-supervised
// pre-training: the backbone is frozen (no gradient, no weight decay, no drop
// path) and only the linear head trains on the average-pooled features, which
// fc_norm normalises without training its affine (kept at its identity init, as
// MAE's linear probe puts a BatchNorm without affine before the head). Without
// --pretrained it probes a frozen random backbone.
//
// Data parallel (mpirun / srun): as `mapet pretrain`; each rank also
// validates its shard of the validation set, and the counts are summed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/commands.h"
#include "apps/train/classifier.h"
#include "apps/train/config.h"
#include "apps/train/data_parallel.h"
#include "apps/train/device.h"
#include "apps/train/layer_decay.h"
#include "apps/train/meter.h"
#include "apps/train/mixup.h"
#include "apps/train/plot.h"
#include "apps/train/run.h"
#include "apps/train/train_flags.h"
#include "data/loader.h"
#include "data/splits.h"
#include "data/transform_flags.h"
#include "engine/cuda/runtime.h"
#include "engine/io/safetensors.h"
#include "engine/threads.h"
#include "engine/precision.h"
#include "models/registry.h"

namespace mapet::apps {

namespace {

namespace fs = std::filesystem;

struct FinetuneArgs {
  std::string data_dir, config, train_split = "train", val_split = "validation";
  std::string model = "vit_standard_small_patch16_224", pretrained, gp = "avg";
  int64_t num_classes = 0;  // 0: the training set's
  train::ArchFlags arch;
  float layer_scale_init_value = 0.0f, layer_decay = 0.65f, smoothing = 0.1f;
  float mixup = 0.8f, cutmix = 1.0f, mixup_prob = 1.0f, mixup_switch_prob = 0.5f;
  std::string mixup_mode = "batch";
  int64_t mixup_off_epoch = 0;
  int validation_batch_size = 0;
  bool linear_probe = false;
  train::TrainFlags t;
  train::DeviceFlag device;
  data::TransformFlags tf;

  FinetuneArgs() {
    // BEiT's fine-tuning recipe (its ViT-B/16 ImageNet values; no RandAugment / random erasing here).
    t.output = "runs/finetune";
    t.total_batch = 1024;
    t.lr = 4e-3f, t.weight_decay = 0.05f, t.warmup_lr = 1e-6f, t.min_lr = 1e-6f, t.clip_grad = 0.0f;
    t.epochs = 100, t.warmup_epochs = 20;
    tf.color_jitter = {0.4f};  // timm's train.py default
  }
};

std::string num(const char* f, double v) {
  char b[48];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string split_folder(const std::string& root, const std::string& split, const char* what) {
  if (!fs::is_directory(root)) throw Error("DATA '" + root + "' is not a folder (" + what + " split wanted)");
  return data::split_folder(root, split);
}

// The classifier, its weights from --pretrained (or timm's init), checked name by name.
std::unique_ptr<models::VisionTransformer> build_model(const FinetuneArgs& a, int64_t num_classes) {
  models::ModelOptions o;
  o.num_classes = num_classes;
  o.img_size = a.tf.cfg.size;
  o.in_chans = 3;
  o.drop_path_rate = a.linear_probe ? 0.0f : a.arch.drop_path;  // a frozen backbone: its features, no noise
  o.global_pool = a.gp;
  if (a.arch.patch_size > 0) o.patch_size = a.arch.patch_size;
  if (a.arch.embed_dim > 0) o.embed_dim = a.arch.embed_dim;
  if (a.arch.depth > 0) o.depth = a.arch.depth;
  if (a.arch.num_heads > 0) o.num_heads = a.arch.num_heads;
  if (a.layer_scale_init_value > 0) o.layer_scale_init = a.layer_scale_init_value;

  io::TensorMap w;
  if (!a.pretrained.empty()) {
    if (!fs::exists(a.pretrained)) throw Error("--pretrained '" + a.pretrained + "' does not exist");
    w = train::classifier_weights(a.pretrained);
    // Pre-trained with layer scale: the gammas come with the weights.
    if (w.count("blocks.0.ls1.gamma") && o.layer_scale_init <= 0) o.layer_scale_init = 1.0f;
  }
  auto model = models::create_vit(a.model, o);
  model->init_weights(a.t.seed);
  if (a.pretrained.empty()) return model;

  const std::string what = "--pretrained '" + a.pretrained + "'";
  std::vector<std::string> dropped;
  io::TensorMap own = io::state_dict(*model);
  for (auto it = w.begin(); it != w.end();) {
    const std::string& n = it->first;
    // A classifier checkpoint's head only fits the same classes; the pre-training norm has no use with avg pooling.
    const bool other_head = (n == "head.weight" || n == "head.bias") &&
                            (!own.count(n) || own.at(n).shape() != it->second.shape());
    const bool unused_norm = (n == "norm.weight" || n == "norm.bias") && !own.count(n);
    if (other_head || unused_norm) {
      dropped.push_back(n);
      it = w.erase(it);
    } else {
      ++it;
    }
  }
  if (!dropped.empty()) {
    std::string list;
    for (const std::string& n : dropped) list += (list.empty() ? "" : ", ") + n;
    std::printf("note: not used for fine-tuning: %s\n", list.c_str());
  }
  std::vector<std::string> fresh;
  for (const auto& [n, t] : own)
    if (!w.count(n)) {
      if (n.rfind("head.", 0) != 0 && n.rfind("fc_norm.", 0) != 0 && n.rfind("norm.", 0) != 0)
        throw Error(what + " has no '" + n + "': it does not hold the backbone of " + a.model +
                    " with these settings (--patch-size, --embed-dim, --depth, --num-heads, --img-size)");
      fresh.push_back(n);
      w[n] = t;  // keeps its fresh initialisation
    }
  io::load_into(*model, w, what);
  std::string list;
  for (const std::string& n : fresh) list += (list.empty() ? "" : ", ") + n;
  std::printf("loaded the backbone from %s%s\n", a.pretrained.c_str(),
              fresh.empty() ? "" : ("; initialised fresh: " + list).c_str());
  return model;
}

// The linear probe: everything but the head stops requiring a gradient (the Trainer then leaves it alone).
void freeze_backbone(const nn::Module& model) {
  int64_t frozen = 0, trained = 0;
  for (const nn::NamedParam& p : model.named_parameters()) {
    const bool head = p.name.rfind("head.", 0) == 0;
    p.var.set_requires_grad(head);
    (head ? trained : frozen) += p.var.value().numel();
  }
  std::printf("linear probe: backbone frozen (%.2fM parameters), training the head (%lld parameters)\n", frozen / 1e6,
              (long long)trained);
}

void draw_curves(const std::string& out) {
  const std::vector<nlohmann::json> r = train::read_metrics(out + "/metrics.jsonl");
  train::Figure f = train::metrics_figure(r, {{"loss", "train loss"}, {"lr", "lr", false}});
  train::Figure v = train::metrics_figure(r, {{"val_top1", "val top-1 (%)", false}}, "epoch", 1);
  f.panels.insert(f.panels.begin() + 1, v.panels.begin(), v.panels.end());
  train::write_figure(f, out + "/loss");
}

void run(FinetuneArgs& a, CLI::App& c) {
  const std::set<std::string> cli = train::load_settings(c, a.config, a.t.resume);
  const train::DeviceChoice dev = a.device.resolve();  // before anything is read or written: a wrong --device stops here
  if (a.data_dir.empty()) throw Error("no DATA: give the image folder (or data_dir in --config)");
  a.arch.apply_input_size(c);
  if (a.mixup_mode != "batch") throw Error("--mixup-mode '" + a.mixup_mode + "': only batch is implemented");
  if (a.gp != "avg" && a.gp != "token") throw Error("--gp must be avg or token, got '" + a.gp + "'");
  if (a.layer_decay <= 0 || a.layer_decay > 1) throw Error("--layer-decay must be in (0, 1]");
  if (a.smoothing < 0 || a.smoothing >= 1) throw Error("--smoothing must be in [0, 1)");
  train::resolve_accumulation(c, cli, a.t.batch_size, a.t.total_batch, a.t.accum_steps);
  const int64_t accum = a.t.accum_steps;

  data::Dataset train_ds = data::load_image_folder(split_folder(a.data_dir, a.train_split, "train"));
  data::Dataset val_ds = data::load_image_folder(split_folder(a.data_dir, a.val_split, "validation"));
  if (val_ds.source == train_ds.source)
    throw Error("DATA '" + a.data_dir + "' has no validation folder (" + a.val_split +
                ", val, ...) beside its training images");
  if (val_ds.num_classes() > train_ds.num_classes())
    throw Error("validation set '" + val_ds.source + "' has more classes than training set '" + train_ds.source + "'");
  if (a.num_classes == 0) train::set_option(c, "num_classes", {std::to_string(train_ds.num_classes())});
  if (a.num_classes < train_ds.num_classes())
    throw Error("--num-classes " + std::to_string(a.num_classes) + " is smaller than the " +
                std::to_string(train_ds.num_classes()) + " classes of '" + train_ds.source + "'");
  const std::string config_text = train::config_yaml(c, {"config", "resume"});

  a.t.apply_amp();

  const data::LoaderOptions lo = a.t.loader_options(a.tf);
  data::Loader loader(train_ds, lo);
  data::LoaderOptions vo = lo;
  vo.batch_size = a.validation_batch_size > 0 ? a.validation_batch_size : a.t.batch_size;
  vo.mode = data::Mode::eval;
  vo.shuffle = false, vo.drop_last = false, vo.even_shards = false;
  data::Loader val_loader(val_ds, vo);
  const int64_t steps_per_epoch = a.t.steps_per_epoch(loader, train_ds);
  const int64_t total_steps = a.t.total_steps(steps_per_epoch);

  std::unique_ptr<models::VisionTransformer> model = build_model(a, a.num_classes);
  if (a.linear_probe) freeze_backbone(*model);
  model->to(dev.device);  // built and loaded on the CPU; moved before the optimizer takes its parameters
  model->train(true);
  train::Trainer trainer(*model, a.t.trainer_config(steps_per_epoch));
  train::apply_layer_decay(trainer.optimizer(), a.layer_decay, model->config.depth);
  Generator drop_rng(a.t.seed + 1);
  nn::Context ctx{&drop_rng};
  train::RunFolder run(a.t.output, a.t.resume, *model, trainer, drop_rng, config_text, accum, steps_per_epoch,
                       train::cosmetic_keys());
  run.set_recovery(a.t.recovery_interval, a.t.recovery_minutes);
  train::TrainState& st = run.state();

  train::MixupConfig mix;
  mix.mixup_alpha = a.mixup, mix.cutmix_alpha = a.cutmix, mix.prob = a.mixup_prob, mix.switch_prob = a.mixup_switch_prob;
  const models::VitConfig& mc = model->config;
  std::printf("%s (global pool %s, %s): %lld px, patch %lld, dim %lld, depth %lld, heads %lld, %lld classes: "
              "%.2fM parameters\n",
              a.model.c_str(), mc.global_pool.c_str(), a.pretrained.empty() ? "from scratch" : "fine-tuning",
              (long long)mc.img_size, (long long)mc.patch_size, (long long)mc.embed_dim, (long long)mc.depth,
              (long long)mc.num_heads, (long long)mc.num_classes, model->num_parameters() / 1e6);
  dist::Communicator& world = dist::world();
  std::printf("data: %s (%zu images), validation %s (%zu); %lld steps/epoch of %d x %lld images%s; %s\n",
              train_ds.source.c_str(), train_ds.size(), val_ds.source.c_str(), val_ds.size(),
              (long long)steps_per_epoch, a.t.batch_size, (long long)accum,
              world.size() > 1 ? (" x " + std::to_string(world.size()) + " ranks").c_str() : "",
              (compute_summary() + train::ranks_summary(world)).c_str());
  if (!dev.on_cpu()) std::printf("device: %s, %s\n", dev.name.c_str(), device::describe().c_str());
  if (const std::string w = a.t.warmup_warning(); !w.empty()) std::printf("%s\n", w.c_str());
  std::fflush(stdout);

  // Epoch means and the best epoch so far continue across a resume.
  double epoch_loss = 0, best_top1 = -1;
  int64_t epoch_steps = 0, best_epoch = -1;
  for (const nlohmann::json& r : run.kept_records()) {
    if (r.contains("step") && r.value("epoch", int64_t(-1)) == st.epoch) epoch_loss += r.value("loss", 0.0), ++epoch_steps;
    if (r.contains("val_top1") && r["val_top1"].get<double>() > best_top1)
      best_top1 = r["val_top1"].get<double>(), best_epoch = r["epoch"].get<int64_t>();
  }

  train::TrainMeter meter(st.step, total_steps, a.t.log_interval, a.t.quiet);
  int64_t images = 0;
  const int64_t images_per_step = int64_t(a.t.batch_size) * accum * world.size();
  train::ClassifierMeter val;
  train::BatchMover to_device(dev.device);
  for (int64_t epoch = st.epoch; epoch < a.t.epochs; ++epoch) {
    const int64_t first = epoch == st.epoch ? st.position : 0;
    const bool mixing = mix.enabled() && (a.mixup_off_epoch <= 0 || epoch < a.mixup_off_epoch);
    loader.start_epoch(epoch, first);
    const double epoch_start = meter.elapsed();
    for (int64_t s = first / accum; s < steps_per_epoch; ++s) {
      train::TimedStep ts;
      try {
        ts = train::timed_step(trainer, loader, [&](data::Batch& b, int64_t k) {
          train::Mix m;
          if (mixing) {
            // Keyed by the micro-batch's place in the run: the same mix after a resume.
            const uint64_t key = uint64_t(epoch) * uint64_t(loader.batches_per_epoch()) + uint64_t(s * accum + k);
            m = train::draw_mix(mix, a.t.seed, key, b.images.size(2), b.images.size(3));
            train::apply_mix(b.images, m);
          }
          const std::vector<Tensor> on = to_device({b.images, b.labels});
          return train::mixed_cross_entropy(model->forward(Var(on[0]), ctx), on[1], m, a.smoothing);
        });
      } catch (const train::NonFinite& e) {
        throw run.stopped(e, epoch, s + 1, steps_per_epoch);
      }
      train::average_over_ranks(world, {&ts.loss}, "the mean loss of step " + std::to_string(trainer.steps_done()));
      const double loss = train::short_float(float(ts.loss));
      const train::StepStats& ss = ts.stats;
      images += images_per_step;
      run.metrics().write(train::step_record(trainer, epoch, loss, ts, images_per_step, world.size()));
      epoch_loss += loss, ++epoch_steps;
      char fields[160];
      std::snprintf(fields, sizeof fields, "epoch %lld/%lld | loss %.4f (mean %.4f) | lr %.2e", (long long)epoch + 1,
                    (long long)a.t.epochs, loss, epoch_loss / double(epoch_steps), ss.lr);
      const std::string on = train::device_field(dev.device);
      meter.step(trainer.steps_done(), images, on.empty() ? fields : std::string(fields) + " | " + on);
      st.epoch = epoch, st.position = (s + 1) * accum;
      if (s + 1 < steps_per_epoch) run.recovery_point();
    }
    const double train_secs = meter.elapsed() - epoch_start;
    model->train(false);
    val = train::evaluate(*model, val_loader, 0);
    train::reduce_over_ranks(world, val);
    model->train(true);
    const double mean_loss = epoch_loss / double(std::max<int64_t>(1, epoch_steps));
    const double top1 = val.pct(val.top1), top5 = val.pct(val.top5);
    run.metrics().write({{"epoch", epoch},
                         {"train_loss", mean_loss},
                         {"val_loss", val.mean_loss()},
                         {"val_top1", top1},
                         {"val_top5", top5},
                         {"epoch_seconds", train_secs},
                         {"val_seconds", val.seconds}});
    epoch_loss = 0, epoch_steps = 0;
    const bool best = top1 > best_top1;
    if (best) {
      best_top1 = top1, best_epoch = epoch;
      if (world.rank() == 0) io::save_safetensors(run.path("model_best.safetensors"), io::state_dict(*model));
    }
    st.epoch = epoch + 1, st.position = 0;
    run.save(train::kLastCheckpoint);
    if (a.t.checkpoint_epochs > 0 && (epoch + 1) % a.t.checkpoint_epochs == 0)
      run.save("checkpoint-" + std::to_string(epoch + 1) + ".safetensors");
    if (world.rank() == 0) draw_curves(a.t.output);
    meter.line("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(a.t.epochs) + ": train loss " +
               num("%.4f", mean_loss) + " | val loss " + num("%.4f", val.mean_loss()) + ", top-1 " +
               num("%.2f", top1) + "%, top-5 " + num("%.2f", top5) + "%" + (best ? " (best)" : "") + " (" +
               num("%.0f", train_secs) + " s + " + num("%.0f", val.seconds) + " s validation)");
  }
  if (world.rank() == 0) io::save_safetensors(run.path("model.safetensors"), io::state_dict(*model));
  nlohmann::ordered_json r;
  r["model"] = a.model;
  r["pretrained"] = a.pretrained;
  r["protocol"] = a.linear_probe ? "linear_probe" : "finetune";
  r["epochs"] = a.t.epochs;
  r["best_top1"] = best_top1, r["best_epoch"] = best_epoch + 1;
  if (val.n > 0) r["final_top1"] = val.pct(val.top1), r["final_top5"] = val.pct(val.top5);
  if (world.rank() == 0) io::write_file_atomic(run.path("results.json"), r.dump(2) + "\n");
  std::printf("best validation top-1 %.2f%% (epoch %lld); wrote %s/model_best.safetensors, model.safetensors, "
              "results.json, metrics.jsonl, loss.png (%.0f s)\n",
              best_top1, (long long)best_epoch + 1, a.t.output.c_str(), meter.elapsed());
  if (!dev.on_cpu()) std::printf("%s\n", train::memory_summary(dev.device).c_str());  // the CPU prints as before
}

}  // namespace

void register_finetune(CLI::App& app) {
  auto a = std::make_shared<FinetuneArgs>();
  CLI::App* c = app.add_subcommand("finetune", "Fine-tune a ViT classifier from pre-trained weights (or from scratch)");
  c->option_defaults()->always_capture_default();
  c->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  c->add_option("data_dir", a->data_dir, "Image folder with a training and a validation sub-folder (ImageFolder)");
  c->add_option("-c,--config", a->config, "YAML file of defaults (timm's keys); flags given here override it");
  c->add_option("--train-split", a->train_split, "Training sub-folder of DATA (train, training)");
  c->add_option("--val-split", a->val_split, "Validation sub-folder of DATA (validation: also val, valid, ...)");
  c->add_option("--model", a->model, "vit_standard_{tiny,small,base}_patch16_224");
  c->add_option("--pretrained", a->pretrained,
                "Pre-trained weights: a pretrain run's model.safetensors or checkpoint, or a torch.save file (none: "
                "from scratch)");
  c->add_option("--num-classes", a->num_classes, "Classes of the new head (0: the training set's)");
  c->add_option("--gp", a->gp, "Global pool: avg (fc_norm, as BEiT / MaPeT fine-tuning) or token");
  a->arch.add_to(c);
  c->add_option("--layer-scale-init-value", a->layer_scale_init_value,
                "Layer scale init for a model from scratch (0: none; pre-trained gammas are always used)");
  c->add_option("--layer-decay", a->layer_decay, "Layer-wise lr decay (1: off)");
  c->add_option("--smoothing", a->smoothing, "Label smoothing");
  c->add_option("--mixup", a->mixup, "Mixup alpha (0: off)");
  c->add_option("--cutmix", a->cutmix, "CutMix alpha (0: off)");
  c->add_option("--mixup-prob", a->mixup_prob, "Chance of mixing a batch");
  c->add_option("--mixup-switch-prob", a->mixup_switch_prob, "With both on: chance of CutMix instead of mixup");
  c->add_option("--mixup-mode", a->mixup_mode, "batch (the only mode)");
  c->add_option("--mixup-off-epoch", a->mixup_off_epoch, "Stop mixing from this epoch (0: never)");
  c->add_option("--validation-batch-size", a->validation_batch_size, "Validation batch (0: --batch-size)");
  c->add_flag("--linear-probe", a->linear_probe,
              "Linear probing: freeze the backbone (no drop path), train only the head on average-pooled features");
  a->t.add_to(c);
  a->device.add_to(c);
  a->tf.add_to(c);
  c->callback([a, c] { run(*a, *c); });
}

}  // namespace mapet::apps
