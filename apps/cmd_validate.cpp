// mapet validate DATA --model NAME --checkpoint PATH [timm validate.py flags]
//
// Top-1 / top-5 accuracy and loss of a classifier checkpoint on a labelled
// image set, with timm's validate.py command line, so the official MaPeT
// command works as written:
//   mapet validate <PathToImageNet> --model <model_name> --checkpoint <checkpoint_path>
//       --interpolation "bicubic" --amp --gp "avg" --pin-mem --no-prefetcher
//
// DATA is a CSV of path,label, or a folder. As timm does for a folder, the
// split (--split, default "validation") picks a sub-folder: DATA/<split> when
// it exists, else for an evaluation split the first of DATA/val, valid,
// validation, eval, evaluation that exists, else DATA itself. The folder is an
// ImageFolder (one sub-folder per class).
//
// The checkpoint is safetensors or a torch.save file (engine/io/state_dict.h:
// the state dict under "model" / "state_dict" / ..., "module." removed).
// Pre-training-only tensors (decoder.*, mask_token, mask_positional_token) are
// dropped with a note; any other missing or wrong-shaped parameter is an error.
// What the command line leaves open of the architecture (classes, patch size,
// width, depth, layer scale, global pool) is read from the checkpoint
// (models::options_from_weights, shared with debug-step).
//
// Output: progress lines, timm's " * Acc@1 ... Acc@5 ..." summary, loss and
// images/s, then timm's "--result" JSON on stdout; --results-file also gets it
// (JSON, or CSV when --results-format csv or the name ends in .csv).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/train/classifier.h"
#include "apps/train/data_parallel.h"
#include "apps/train/device.h"
#include "data/loader.h"
#include "data/splits.h"
#include "engine/cuda/runtime.h"
#include "engine/precision.h"
#include "models/mapet.h"
#include "models/registry.h"

namespace mapet::apps {

namespace {

namespace fs = std::filesystem;

struct ValidateArgs {
  std::string data, data_dir, root, model, checkpoint, split = "validation", gp, crop_mode;
  std::string interpolation = "bicubic", results_file, results_format, amp_dtype;
  int batch_size = 256, workers = 0, log_freq = 10;
  int64_t img_size = -1, num_classes = -1;
  std::vector<int64_t> input_size;
  double crop_pct = 0.9;
  std::vector<float> mean, std;
  std::vector<std::string> model_kwargs;
  bool amp = false, use_ema = false, no_dct_scaling = false;
  std::vector<std::string> ignored_values;  // sink for the values of ignored timm options
  train::DeviceFlag device;
};

// timm validate.py flags that change nothing here (GPU, compiler and loader
// knobs): accepted so its command lines run, and named in a note.
const std::vector<std::string> kIgnoredFlags{
    "--pin-mem", "--no-prefetcher", "--channels-last", "--pretrained", "--torchscript", "--aot-autograd",
    "--fast-norm", "--reparam", "--retry", "--legacy-jit", "--apex-amp", "--native-amp", "--use-train-size",
    "--dataset-download"};
// (--device is ours: cpu, cuda or cuda-sim, apps/train/device.h.)
const std::vector<std::string> kIgnoredOptions{"--num-gpu", "--seed", "--fuser", "--torchcompile",
                                               "--torchcompile-mode", "--input-img-mode", "--model-dtype"};
// timm flags that would change the results and are not implemented: refused by name.
const std::vector<std::string> kRefusedFlags{"--test-pool", "--tf-preprocessing", "--naflex-loader"};
const std::vector<std::string> kRefusedOptions{"--real-labels", "--valid-labels", "--class-map", "--dataset",
                                               "--metrics-avg", "--crop-border-pixels", "--num-samples",
                                               "--input-key", "--target-key", "--in-chans"};

void note(const std::string& s) { std::printf("note: %s\n", s.c_str()); }

data::Dataset open_dataset(const ValidateArgs& a) {
  const std::string spec = !a.data.empty() ? a.data : a.data_dir;
  if (spec.empty()) throw Error("validate: give the dataset: DATA (a folder or a CSV) or --data-dir");
  if (!fs::exists(spec)) throw Error("validate: dataset '" + spec + "' does not exist");
  if (!fs::is_directory(spec)) return data::load_dataset(spec, a.root);  // a CSV of path,label
  const std::string folder = data::split_folder(spec, a.split);
  if (folder != spec) note("using split folder '" + folder + "'");
  return data::load_image_folder(folder);
}

// --model-kwargs key=value ... (timm's), for the architecture fields we have.
void apply_model_kwargs(const std::vector<std::string>& kv, models::ModelOptions& o) {
  for (const std::string& s : kv) {
    const size_t eq = s.find('=');
    const std::string k = s.substr(0, eq), v = eq == std::string::npos ? "" : s.substr(eq + 1);
    auto integer = [&] {
      size_t used = 0;
      int64_t n = 0;
      try {
        n = std::stoll(v, &used);
      } catch (const std::exception&) {
      }
      if (used == 0 || used != v.size()) throw Error("--model-kwargs " + s + ": expected an integer value");
      return n;
    };
    if (eq == std::string::npos) throw Error("--model-kwargs '" + s + "': expected key=value");
    if (k == "patch_size") o.patch_size = integer();
    else if (k == "embed_dim") o.embed_dim = integer();
    else if (k == "depth") o.depth = integer();
    else if (k == "num_heads") o.num_heads = integer();
    else if (k == "img_size") o.img_size = integer();
    else if (k == "num_classes") o.num_classes = integer();
    else if (k == "global_pool") o.global_pool = v;
    else throw Error("--model-kwargs: unknown key '" + k +
                     "' (known: patch_size, embed_dim, depth, num_heads, img_size, num_classes, global_pool)");
  }
}

data::TransformConfig eval_transform(const ValidateArgs& a, int64_t img_size) {
  if (a.interpolation != "bicubic" && a.interpolation != "bilinear")
    throw Error("--interpolation '" + a.interpolation + "' is not supported (bicubic or bilinear)");
  if (!a.crop_mode.empty() && a.crop_mode != "center")
    throw Error("--crop-mode '" + a.crop_mode + "' is not supported (only center)");
  data::TransformConfig t;
  t.size = static_cast<int>(img_size);
  t.crop_pct = a.crop_pct;
  t.interpolation = a.interpolation == "bilinear" ? data::Filter::bilinear : data::Filter::bicubic;
  auto rgb = [](const std::vector<float>& v, const char* flag) {
    if (v.size() != 1 && v.size() != 3) throw Error(std::string(flag) + " takes one value or three");
    return v.size() == 1 ? data::Rgb{v[0], v[0], v[0]} : data::Rgb{v[0], v[1], v[2]};
  };
  if (!a.mean.empty()) t.mean = rgb(a.mean, "--mean");
  if (!a.std.empty()) t.std = rgb(a.std, "--std");
  t.dct_scaling = !a.no_dct_scaling;
  t.validate();
  return t;
}

double round_to(double v, int digits) {
  const double s = std::pow(10.0, digits);
  return std::round(v * s) / s;
}

void write_results(const std::string& path, const std::string& format, const nlohmann::ordered_json& r) {
  const bool csv = format == "csv" || (format.empty() && fs::path(path).extension() == ".csv");
  if (!format.empty() && format != "csv" && format != "json")
    throw Error("--results-format '" + format + "': expected csv or json");
  std::string text;
  if (csv) {  // one header line, one row, as timm's csv.DictWriter
    std::string head, row;
    for (const auto& [k, v] : r.items()) {
      head += (head.empty() ? "" : ",") + k;
      row += (row.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    text = head + "\n" + row + "\n";
  } else {
    text = r.dump(4) + "\n";
  }
  io::write_file_atomic(path, text);
}

// Notes the inert timm flags; refuses the ones that would change the results.
void check_timm_flags(const ValidateArgs& a, const CLI::App& cmd) {
  for (const auto* list : {&kRefusedFlags, &kRefusedOptions})
    for (const std::string& f : *list)
      if (cmd.count(f)) throw Error("timm's " + f + " is not supported by mapet validate (it would change the results)");
  for (const auto* list : {&kIgnoredFlags, &kIgnoredOptions})
    for (const std::string& f : *list)
      if (cmd.count(f)) note(f + " (a timm validate.py flag) has no effect here; ignored");
  if (!a.amp_dtype.empty()) note("--amp-dtype ignored: --amp on the CPU means bf16 GEMMs");
  if (models::is_mapet_name(a.model))
    throw Error("validate needs a classifier; '" + a.model + "' is the pre-training model (use vit_standard_" +
                "{tiny,small,base}_patch16_224 with a fine-tuned checkpoint)");
}

// The model options the command line asks for (the checkpoint fills in the rest).
models::ModelOptions model_options(const ValidateArgs& a) {
  models::ModelOptions o;
  o.drop_path_rate = 0.0f;
  o.global_pool = a.gp;
  if (a.input_size.size() == 3) {
    if (a.input_size[0] != 3 || a.input_size[1] != a.input_size[2])
      throw Error("--input-size: only 3 x N x N inputs are supported");
    o.img_size = a.input_size[2];
  }
  if (a.img_size > 0) o.img_size = a.img_size;
  o.num_classes = a.num_classes;
  apply_model_kwargs(a.model_kwargs, o);
  return o;
}

std::unique_ptr<models::VisionTransformer> load_model(const ValidateArgs& a, models::ModelOptions o,
                                                      const io::TensorMap& w) {
  const bool gp_given = !o.global_pool.empty();
  std::string taken;
  o = models::options_from_weights(w, o, &taken);
  if (!taken.empty()) note("from the checkpoint: " + taken);
  auto model = models::create_vit(a.model, o);
  if (gp_given && model->config.global_pool == "token" && w.count("fc_norm.weight") && !w.count("norm.weight"))
    throw Error("checkpoint '" + a.checkpoint + "' was trained with global pool avg (it has fc_norm, no norm): use --gp avg, or leave --gp out");
  io::load_into(*model, w, "checkpoint '" + a.checkpoint + "'");
  model->train(false);
  if (model->config.num_classes <= 0) throw Error("validate: the model has no classifier head (num_classes 0)");
  return model;
}

void run(const ValidateArgs& a, const CLI::App& cmd) {
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);  // notes and errors (stderr) appear in order
  // Everything the flags alone decide is checked before the (possibly large) checkpoint is read.
  check_timm_flags(a, cmd);
  const models::ModelOptions options = model_options(a);
  const int64_t img_size = options.img_size > 0 ? options.img_size : models::vit_config(a.model).img_size;
  data::LoaderOptions lo;
  lo.transform = eval_transform(a, img_size);
  data::Dataset ds = open_dataset(a);
  const train::DeviceChoice dev = a.device.resolve();

  auto model = load_model(a, options, train::classifier_weights(a.checkpoint, a.use_ema));
  model->to(dev.device);  // loaded on the CPU; train::evaluate sends each batch where the model is
  const models::VitConfig& mc = model->config;
  if (ds.num_classes() > mc.num_classes)
    throw Error("dataset '" + ds.source + "' has " + std::to_string(ds.num_classes()) +
                " classes but the model's head has " + std::to_string(mc.num_classes));
  if (const AmpChoice amp = configure_amp(a.amp); !amp.note.empty()) note(amp.note);
  lo.batch_size = a.batch_size;
  lo.mode = data::Mode::eval;
  lo.shuffle = false;
  lo.drop_last = false;
  lo.even_shards = false;
  // Data parallel (mpirun / srun): each rank evaluates its shard; every image is in exactly one.
  dist::Communicator& world = dist::world();
  lo.rank = world.rank(), lo.world = world.size();
  lo.workers = a.workers > 0 || world.size() == 1 ? a.workers : dist::threads_per_rank();
  lo.strict = true;  // a replaced image would be counted twice: stop and name it instead
  data::Loader loader(ds, lo);
  const data::TransformConfig& t = lo.transform;
  std::printf("validate %s (%.2fM parameters, global pool %s) on '%s': %zu images, %lld classes; %s\n",
              a.model.c_str(), model->num_parameters() / 1e6, mc.global_pool.c_str(), ds.source.c_str(), ds.size(),
              static_cast<long long>(ds.num_classes()), (compute_summary() + train::ranks_summary(world)).c_str());
  std::printf("eval transform: %s\n", t.str(data::Mode::eval).c_str());
  if (!dev.on_cpu()) std::printf("device: %s, %s\n", dev.name.c_str(), device::describe().c_str());

  train::ClassifierMeter m = train::evaluate(*model, loader, a.log_freq);
  train::reduce_over_ranks(world, m);

  // timm's result, field for field.
  const double top1 = m.pct(m.top1), top5 = m.pct(m.top5);
  nlohmann::ordered_json r;
  r["model"] = a.model;
  r["top1"] = round_to(top1, 4), r["top1_err"] = round_to(100 - top1, 4);
  r["top5"] = round_to(top5, 4), r["top5_err"] = round_to(100 - top5, 4);
  r["param_count"] = round_to(model->num_parameters() / 1e6, 2);
  r["img_size"] = mc.img_size;
  r["crop_pct"] = a.crop_pct;
  r["interpolation"] = a.interpolation;
  std::printf(" * Acc@1 %.3f (%.3f) Acc@5 %.3f (%.3f)\n", r["top1"].get<double>(), r["top1_err"].get<double>(),
              r["top5"].get<double>(), r["top5_err"].get<double>());
  std::printf(" * Loss %.4f | %lld images in %.1f s (%.1f images/s)\n", m.n ? m.loss / double(m.n) : 0.0,
              static_cast<long long>(m.n), m.seconds, m.seconds > 0 ? double(m.n) / m.seconds : 0.0);
  if (!a.results_file.empty() && world.rank() == 0) write_results(a.results_file, a.results_format, r);
  if (!dev.on_cpu()) std::printf("%s\n", train::memory_summary(dev.device).c_str());
  std::printf("--result\n%s\n", r.dump(4).c_str());
}

}  // namespace

void register_validate(CLI::App& app) {
  auto a = std::make_shared<ValidateArgs>();
  CLI::App* c = app.add_subcommand("validate", "Top-1/top-5 accuracy of a checkpoint (timm validate.py's flags)");
  c->add_option("data", a->data, "Dataset: a folder (ImageFolder; its val/ sub-folder if any) or a CSV of path,label");
  c->add_option("--data-dir", a->data_dir, "Dataset folder (same as DATA)");
  c->add_option("--root", a->root, "Folder a CSV's paths are relative to (default: the CSV's folder)");
  c->add_option("--split", a->split, "Sub-folder of DATA to use when present (validation: also val, valid, ...)")
      ->capture_default_str();
  c->add_option("-m,--model", a->model, "vit_standard_{tiny,small,base}_patch16_224")->required();
  c->add_option("--checkpoint", a->checkpoint, "safetensors or torch.save (.pth) checkpoint")->required();
  c->add_flag("--use-ema", a->use_ema, "Prefer the EMA weights (model_ema / state_dict_ema) of the checkpoint");
  c->add_option("-b,--batch-size", a->batch_size)->capture_default_str();
  c->add_option("-j,--workers", a->workers, "Decode threads (0: one per core)")->capture_default_str();
  c->add_option("--img-size", a->img_size, "Input size (default: the model's)");
  c->add_option("--input-size", a->input_size, "3 H W (H = W)")->expected(3);
  c->add_option("--crop-pct", a->crop_pct, "Resize to img_size / crop_pct, then center crop")->capture_default_str();
  c->add_option("--crop-mode", a->crop_mode, "center (the only mode)");
  c->add_option("--interpolation", a->interpolation, "bicubic or bilinear")->capture_default_str();
  c->add_option("--mean", a->mean, "Per-channel mean (default: ImageNet's)")->expected(1, 3);
  c->add_option("--std", a->std, "Per-channel std (default: ImageNet's)")->expected(1, 3);
  c->add_flag("--no-dct-scaling", a->no_dct_scaling, "Always decode JPEGs at full size");
  c->add_option("--num-classes", a->num_classes, "Classifier size (default: from the checkpoint's head)");
  c->add_option("--gp", a->gp, "Global pool: avg or token (default: the checkpoint's)");
  c->add_option("--model-kwargs", a->model_kwargs, "key=value ...: patch_size, embed_dim, depth, num_heads, ...")
      ->expected(0, 64);
  c->add_flag("--amp", a->amp, "bf16 GEMMs with f32 accumulation");
  c->add_option("--amp-dtype", a->amp_dtype, "Accepted; --amp always uses bf16 on the CPU");
  c->add_option("--log-freq", a->log_freq, "Progress line every N batches")->capture_default_str();
  c->add_option("--results-file", a->results_file, "Write the result here (JSON; CSV if the name ends in .csv)");
  c->add_option("--results-format", a->results_format, "json or csv (default: from the file name)");
  a->device.add_to(c);
  CLI::Option_group* timm = c->add_option_group("timm compatibility", "timm validate.py flags that are accepted and ignored, or refused");
  for (const std::string& f : kIgnoredFlags) timm->add_flag(f)->description("ignored (no effect here)");
  for (const std::string& f : kIgnoredOptions)
    timm->add_option(f, a->ignored_values, "ignored")->expected(f == "--torchcompile" ? 0 : 1, 1);  // a backend name is optional
  for (const std::string& f : kRefusedFlags) timm->add_flag(f)->description("not supported");
  for (const std::string& f : kRefusedOptions) timm->add_option(f, a->ignored_values, "not supported");
  c->callback([a, c] { run(*a, *c); });
}

}  // namespace mapet::apps
