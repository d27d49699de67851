#include "apps/train/checkpoint.h"

#include <filesystem>

#include "engine/io/safetensors.h"

namespace mapet::apps::train {

namespace {

constexpr const char* kFormat = "mapet-train-checkpoint-1";
const std::string kModel = "model.", kExpAvg = "optimizer.exp_avg.", kExpAvgSq = "optimizer.exp_avg_sq.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

uint64_t parse_u64(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  if (it == meta.end()) throw Error("checkpoint '" + path + "' has no '" + key + "' in its metadata");
  try {
    size_t used = 0;
    uint64_t v = std::stoull(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("checkpoint '" + path + "': metadata '" + key + "' is '" + it->second + "', not a number");
}

// A key that older checkpoints lack.
uint64_t parse_u64_or(const std::map<std::string, std::string>& meta, const std::string& key, uint64_t fallback,
                      const std::string& path) {
  return meta.count(key) ? parse_u64(meta, key, path) : fallback;
}

// Copies src into an optimizer slot tensor of the same shape.
void restore(Tensor& dst, const io::TensorMap& all, const std::string& name, const std::string& path) {
  auto it = all.find(name);
  if (it == all.end()) throw Error("checkpoint '" + path + "' has no tensor '" + name + "'");
  if (it->second.dtype() != DType::f32 || it->second.shape() != dst.shape())
    throw Error("checkpoint '" + path + "': tensor '" + name + "' is " + it->second.str() + ", expected f32 " +
                Tensor::empty(dst.shape()).str());
  dst.copy_(it->second);
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, optim::AdamW& opt, const TrainState& s,
                     const std::string& config_yaml) {
  io::TensorMap t;
  for (const nn::NamedParam& p : model.named_parameters()) t[kModel + p.name] = p.var.value();
  for (optim::AdamW::Slot& slot : opt.slots()) {
    t[kExpAvg + slot.param.name] = slot.m;
    t[kExpAvgSq + slot.param.name] = slot.v;
  }
  std::map<std::string, std::string> meta{{"format", kFormat},
                                          {"step", std::to_string(s.step)},
                                          {"optimizer_steps", std::to_string(opt.steps())},
                                          {"epoch", std::to_string(s.epoch)},
                                          {"position", std::to_string(s.position)},
                                          {"rng_seed", std::to_string(s.rng_seed)},
                                          {"rng_offset", std::to_string(s.rng_offset)},
                                          {"metrics_bytes", std::to_string(s.metrics_bytes)},
                                          {"world_size", std::to_string(s.world_size)},
                                          {"accum_steps", std::to_string(s.accum_steps)},
                                          {"config", config_yaml}};
  io::save_safetensors(path, t, meta);
}

Checkpoint load_checkpoint(const std::string& path, const nn::Module& model, optim::AdamW& opt) {
  // Tensors first: a truncated file is refused there, naming the tensor that runs past the end.
  io::TensorMap all = io::load_safetensors(path);
  std::map<std::string, std::string> meta = io::safetensors_metadata(path);
  auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormat)
    throw Error("'" + path + "' is not a training checkpoint of this program (format '" +
                (format == meta.end() ? std::string("none") : format->second) + "', expected '" + kFormat +
                "'); model weights alone cannot resume a run");

  io::TensorMap weights;
  for (const auto& [name, t] : all) {
    if (starts_with(name, kModel))
      weights[name.substr(kModel.size())] = t;
    else if (!starts_with(name, kExpAvg) && !starts_with(name, kExpAvgSq))
      throw Error("checkpoint '" + path + "': unexpected tensor '" + name + "'");
  }
  io::load_into(model, weights, "checkpoint '" + path + "'");
  size_t optimizer_tensors = 0;
  for (optim::AdamW::Slot& slot : opt.slots()) {
    restore(slot.m, all, kExpAvg + slot.param.name, path);
    restore(slot.v, all, kExpAvgSq + slot.param.name, path);
    optimizer_tensors += 2;
  }
  if (weights.size() + optimizer_tensors != all.size())
    throw Error("checkpoint '" + path + "' holds optimizer state for parameters the model does not have");

  Checkpoint c;
  c.state.step = static_cast<int64_t>(parse_u64(meta, "step", path));
  c.state.epoch = static_cast<int64_t>(parse_u64(meta, "epoch", path));
  c.state.position = static_cast<int64_t>(parse_u64(meta, "position", path));
  c.state.rng_seed = parse_u64(meta, "rng_seed", path);
  c.state.rng_offset = parse_u64(meta, "rng_offset", path);
  c.state.metrics_bytes = parse_u64(meta, "metrics_bytes", path);
  c.state.world_size = static_cast<int64_t>(parse_u64_or(meta, "world_size", 1, path));
  c.state.accum_steps = static_cast<int64_t>(parse_u64_or(meta, "accum_steps", 0, path));
  opt.set_steps(static_cast<int64_t>(parse_u64(meta, "optimizer_steps", path)));
  c.config_yaml = meta.count("config") ? meta.at("config") : std::string();
  return c;
}

int64_t checkpoint_step(const std::string& path) {
  return static_cast<int64_t>(parse_u64(io::safetensors_metadata(path), "step", path));
}

std::string checkpoint_path(const std::string& dir_or_file) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir_or_file)) {
    if (!fs::exists(dir_or_file)) throw Error("--resume '" + dir_or_file + "': no such checkpoint file or run folder");
    return dir_or_file;
  }
  std::string p = (fs::path(dir_or_file) / kLastCheckpoint).string();
  if (!fs::exists(p))
    throw Error("--resume '" + dir_or_file + "': the folder has no " + kLastCheckpoint +
                " (the run stopped before its first checkpoint)");
  return p;
}

}  // namespace mapet::apps::train
