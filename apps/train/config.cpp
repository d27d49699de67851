#include "apps/train/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>

#include "engine/tensor.h"

namespace mapet::apps::train {

namespace {

ConfigPolicy make_timm_policy() {
  ConfigPolicy p;
  auto ignore = [&](std::initializer_list<const char*> keys, const char* why) {
    for (const char* k : keys) p.ignored[k] = why;
  };
  ignore({"pin_mem", "no_prefetcher", "channels_last", "torchscript", "torchcompile", "torchcompile_mode", "fuser",
          "fast_norm", "grad_checkpointing", "device", "device_modules", "local_rank", "no_ddp_bb", "synchronize_step",
          "dist_bn", "sync_bn", "split_bn", "bn_momentum", "bn_eps", "amp_dtype", "amp_impl", "apex_amp", "native_amp",
          "model_dtype", "worker_seeding", "use_multi_epochs_loader"},
         "a PyTorch device or data-loader setting");
  ignore({"experiment", "eval_metric", "tta", "save_images", "log_wandb", "wandb_project", "wandb_tags",
          "wandb_resume_id", "checkpoint_hist", "no_resume_opt", "start_epoch"},
         "logging or checkpoint bookkeeping");
  ignore({"validation_batch_size", "val_split", "val_num_samples", "train_num_samples", "dataset_download",
          "input_img_mode", "input_key", "target_key", "class_map", "dataset_trust_remote_code"},
         "a dataset option of timm that pre-training here does not use");
  ignore({"num_classes", "gp", "smoothing", "bce_loss", "bce_sum", "bce_target_thresh", "bce_pos_weight", "jsd_loss",
          "mixup_prob", "mixup_switch_prob", "mixup_mode", "mixup_off_epoch", "cutmix_minmax", "head_init_scale",
          "head_init_bias", "remode", "recount", "momentum", "pretrained_path", "model_kwargs", "opt_kwargs"},
         "it only matters for classification labels, an augmentation that is off, or another optimizer");
  ignore({"warmup_prefix", "sched_on_updates", "lr_cycle_mul", "lr_cycle_decay", "lr_cycle_limit", "lr_k_decay",
          "decay_epochs", "decay_milestones", "decay_rate", "patience_epochs", "lr_noise_pct", "lr_noise_std",
          "lr_base", "lr_base_size", "lr_base_scale"},
         "the schedule here is BEiT's: per optimizer step, linear warm-up, then one cosine to min_lr from lr");
  // Choices with one implementation here: accepted only with that value (null is timm's "unset").
  p.fixed = {{"opt", {"adamw"}},        {"sched", {"cosine"}},     {"clip_mode", {"norm"}},
             {"model_ema", {"false"}},  {"no_aug", {"false"}},     {"pretrained", {"false"}},
             {"aa", {"none"}},          {"reprob", {"0"}},         {"vflip", {"0"}},
             {"mixup", {"0"}},          {"cutmix", {"0"}},         {"aug_repeats", {"0"}},
             {"aug_splits", {"0"}},     {"resplit", {"false"}},    {"color_jitter_prob", {"1"}},
             {"grayscale_prob", {"0"}}, {"gaussian_blur_prob", {"0"}}, {"lr_noise", {"none"}},
             {"cooldown_epochs", {"0"}}, {"epoch_repeats", {"0"}}, {"in_chans", {"3"}},
             {"initial_checkpoint", {""}}, {"drop_connect", {"0"}}, {"drop_block", {"0"}},
             {"train_crop_mode", {"rrc"}}, {"layer_decay", {"1"}},  {"dataset", {"", "imagefolder", "folder"}}};
  p.aliases = {{"data", "data_dir"}, {"grad_accum_steps", "accum_steps"}};
  return p;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Equal as numbers when both are numbers (0.0 == 0), else as lower-case text.
bool same_value(const std::string& a, const std::string& b) {
  try {
    size_t ia = 0, ib = 0;
    double x = std::stod(a, &ia), y = std::stod(b, &ib);
    if (ia == a.size() && ib == b.size()) return x == y;
  } catch (const std::exception&) {
  }
  return lower(a) == lower(b);
}

bool is_flag(const CLI::Option& opt) { return opt.get_items_expected_max() == 0; }
bool is_list(const CLI::Option& opt) { return opt.get_items_expected_max() > 1; }

CLI::Option* find_option(CLI::App& cmd, const std::string& key) {
  for (CLI::Option* o : cmd.get_options())
    if (dest_name(*o) == key) return o;
  return nullptr;
}

// A default string as CLI11 captures it: "x", or "[a,b]" for vectors.
std::vector<std::string> split_default(const std::string& s) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return {s};
  std::vector<std::string> out;
  std::string inner = s.substr(1, s.size() - 2);
  for (size_t at = 0; !inner.empty() && at <= inner.size();) {
    size_t comma = inner.find(',', at);
    if (comma == std::string::npos) comma = inner.size();
    out.push_back(inner.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

void emit_scalar(YAML::Emitter& out, const std::string& v) {
  if (v.empty())
    out << YAML::Null;
  else
    out << v;
}

}  // namespace

const ConfigPolicy& timm_policy() {
  static const ConfigPolicy p = make_timm_policy();
  return p;
}

std::string dest_name(const CLI::Option& opt) {
  std::string n = opt.get_single_name();
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

void apply_yaml_config(CLI::App& cmd, const std::string& path, const ConfigPolicy& policy, bool quiet) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error("cannot read config file '" + path + "'");
  } catch (const YAML::Exception& e) {
    throw Error("config '" + path + "' is not valid YAML: " + e.what());
  }
  if (root.IsNull()) return;  // an empty file changes nothing
  if (!root.IsMap()) throw Error("config '" + path + "' must be a mapping of `key: value` lines");

  std::set<std::string> given, seen;  // options the command line set; keys read so far (as option names)
  for (const CLI::Option* o : cmd.get_options())
    if (o->count() > 0) given.insert(dest_name(*o));
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) throw Error("config '" + path + "': keys must be plain names");
    const std::string key = kv.first.Scalar();
    const YAML::Node& node = kv.second;
    const std::string where = "config '" + path + "': key '" + key + "'";
    std::string name = key;
    if (auto it = policy.aliases.find(key); it != policy.aliases.end()) name = it->second;
    // PyYAML keeps the last of two equal keys, yaml-cpp hands both over: which one was meant is anyone's guess.
    if (!seen.insert(name).second)
      throw Error(where + " is given twice" + (name != key ? " (as '" + name + "' too)" : std::string()) +
                  ": keep one");
    CLI::Option* opt = name == "help" ? nullptr : find_option(cmd, name);
    // The policy speaks only for keys the command has no option for (finetune has --smoothing, pretrain not).
    if (!opt) {
      if (auto it = policy.ignored.find(key); it != policy.ignored.end()) {
        if (!quiet) std::fprintf(stderr, "mapet: %s ignored (%s)\n", where.c_str(), it->second.c_str());
        continue;
      }
      if (auto it = policy.fixed.find(key); it != policy.fixed.end()) {
        if (node.IsNull()) continue;
        const std::string v = node.IsScalar() ? node.Scalar() : "(a list)";
        const std::vector<std::string>& ok_values = it->second;
        if (std::none_of(ok_values.begin(), ok_values.end(), [&](const std::string& a) { return same_value(v, a); }))
          throw Error(where + " is '" + v + "', but only '" + ok_values.front() +
                      "' is implemented here (remove the key or set it to that)");
        continue;
      }
      throw Error(where + " is not an option of `mapet " + cmd.get_name() +
                  "` (keys are the flags' timm names, e.g. batch_size for --batch-size; see --help)");
    }
    if (given.count(name) || node.IsNull()) continue;  // the command line wins; null means "default"

    std::vector<std::string> values;
    if (node.IsScalar()) {
      values.push_back(node.Scalar());
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar()) throw Error(where + ": list items must be plain values");
        values.push_back(item.Scalar());
      }
      if (values.empty()) continue;  // [] : keep the default
    } else {
      throw Error(where + ": expected a value or a list of values, got a mapping");
    }
    if (is_flag(*opt)) {
      bool on = false;
      if (values.size() != 1 || !YAML::convert<bool>::decode(YAML::Node(values[0]), on))
        throw Error(where + " is a switch: expected true or false, got '" + values[0] + "'");
      values = {opt->get_flag_value(opt->get_single_name(), on ? "true" : "false")};
    } else {
      const int lo = opt->get_items_expected_min(), hi = opt->get_items_expected_max();
      const int n = static_cast<int>(values.size());
      if (n < lo || n > hi) {
        const std::string range = lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
        throw Error(where + " takes " + range + " value(s), got " + std::to_string(n));
      }
    }
    opt->clear();
    for (const std::string& v : values) opt->add_result(v);
    try {
      opt->run_callback();
    } catch (const CLI::Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
}

void set_option(CLI::App& cmd, const std::string& dest, const std::vector<std::string>& values) {
  CLI::Option* opt = find_option(cmd, dest);
  if (!opt) throw Error("set_option: `mapet " + cmd.get_name() + "` has no option '" + dest + "'");
  opt->clear();
  for (const std::string& v : values) opt->add_result(v);
  opt->run_callback();
}

std::string config_yaml(const CLI::App& cmd, const std::set<std::string>& skip) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string key = dest_name(*opt);
    if (key == "help" || skip.count(key)) continue;
    out << YAML::Key << key << YAML::Value;
    if (is_flag(*opt)) {
      const auto& r = opt->results();
      out << (!r.empty() && r.back() == opt->get_flag_value(opt->get_single_name(), "true"));
      continue;
    }
    std::vector<std::string> values = opt->count() > 0 ? opt->results() : split_default(opt->get_default_str());
    if (is_list(*opt)) {
      out << YAML::Flow << YAML::BeginSeq;
      for (const std::string& v : values) emit_scalar(out, v);
      out << YAML::EndSeq;
    } else {
      emit_scalar(out, values.empty() ? std::string() : values.back());
    }
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> config_differences(const std::string& old_yaml, const std::string& new_yaml,
                                            const std::set<std::string>& skip) {
  auto flat = [](const std::string& text) {
    std::map<std::string, std::string> m;
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return m;
    for (const auto& kv : root) {
      YAML::Emitter e;
      e << YAML::Flow << kv.second;
      m[kv.first.as<std::string>()] = e.c_str();
    }
    return m;
  };
  const std::map<std::string, std::string> a = flat(old_yaml), b = flat(new_yaml);
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    if (skip.count(k)) continue;
    auto ia = a.find(k), ib = b.find(k);
    std::string va = ia == a.end() ? "(absent)" : ia->second, vb = ib == b.end() ? "(absent)" : ib->second;
    if (va != vb) out.push_back(k + ": " + va + " -> " + vb);
  }
  return out;
}

}  // namespace mapet::apps::train
