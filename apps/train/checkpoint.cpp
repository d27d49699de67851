#include "apps/train/checkpoint.h"

#include <zlib.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "engine/checked.h"
#include "engine/io/safetensors.h"

namespace mapet::apps::train {

namespace {

constexpr const char* kFormat = "mapet-train-checkpoint-1";
const std::string kModel = "model.", kExpAvg = "optimizer.exp_avg.", kExpAvgSq = "optimizer.exp_avg_sq.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

uint64_t parse_u64(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  if (it == meta.end()) throw Error("checkpoint '" + path + "' has no '" + key + "' in its metadata");
  uint64_t v = 0;
  const char* b = it->second.data();
  const char* e = b + it->second.size();
  if (auto [end, ec] = std::from_chars(b, e, v); b != e && ec == std::errc() && end == e) return v;  // digits only
  throw Error("checkpoint '" + path + "': metadata '" + key + "' is '" + it->second + "', not a number");
}

// A counter (step, epoch, ...): a number that fits int64.
int64_t parse_count(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  const uint64_t v = parse_u64(meta, key, path);
  if (v > uint64_t(INT64_MAX)) throw Error("checkpoint '" + path + "' is damaged: metadata '" + key + "' is " + std::to_string(v));
  return static_cast<int64_t>(v);
}

// CRC-32 of every tensor's bytes in name order (the order of the file's data) and of every metadata
// entry but the checksum itself: a damaged byte anywhere in the payload or in a counter shows.
std::string payload_checksum(const io::TensorMap& tensors, const std::map<std::string, std::string>& meta) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (const auto& [name, t] : tensors) {
    const Tensor c = t.contiguous();
    crc = crc32_z(crc, static_cast<const Bytef*>(c.raw_data()), c.nbytes());
  }
  for (const auto& [key, value] : meta) {
    if (key == "checksum") continue;
    const std::string entry = key + '\0' + value + '\0';
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(entry.data()), entry.size());
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  return std::string("crc32:") + hex;
}

// The counters must agree with each other (a damaged file that passed its checksum, or an old one without).
void check_counters(const TrainState& s, int64_t optimizer_steps, const std::string& path) {
  auto damaged = [&](const std::string& why) {
    return Error("checkpoint '" + path + "' is damaged: " + why + " (step " + std::to_string(s.step) + ", epoch " +
                 std::to_string(s.epoch) + ", position " + std::to_string(s.position) + ")");
  };
  if (optimizer_steps != s.step)
    throw damaged("its optimizer took " + std::to_string(optimizer_steps) + " steps, its schedule " + std::to_string(s.step));
  if (s.steps_per_epoch == 0) return;  // written before these were recorded
  if (s.steps_per_epoch < 0 || s.accum_steps < 1 || s.position % s.accum_steps != 0 ||
      s.position / s.accum_steps > s.steps_per_epoch)
    throw damaged("its data position is not a step of its epoch of " + std::to_string(s.steps_per_epoch) + " steps x " +
                  std::to_string(s.accum_steps) + " batches");
  int64_t want = 0;
  if (!mul_fits(s.epoch, s.steps_per_epoch, want) || !add_fits(want, s.position / s.accum_steps, want) || want != s.step)
    throw damaged("its step does not follow from its epoch and position");
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
  // The same file from every device: a Device::cuda model and its moments are copied to the CPU first
  // (to() is the tensor itself on the CPU), and load_checkpoint reads on the CPU and copies into wherever
  // the model and the optimizer's slots live, so a run resumes on either device.
  io::TensorMap t;
  for (const nn::NamedParam& p : model.named_parameters()) t[kModel + p.name] = p.var.value().to(Device::cpu);
  for (optim::AdamW::Slot& slot : opt.slots()) {
    t[kExpAvg + slot.param.name] = slot.m.to(Device::cpu);
    t[kExpAvgSq + slot.param.name] = slot.v.to(Device::cpu);
  }
  std::map<std::string, std::string> meta{{"format", kFormat},
                                          {"step", std::to_string(s.step)},
                                          {"optimizer_steps", std::to_string(opt.steps())},
                                          {"epoch", std::to_string(s.epoch)},
                                          {"position", std::to_string(s.position)},
                                          {"rng_seed", std::to_string(s.rng_seed)},
                                          {"rng_offset", std::to_string(s.rng_offset)},
                                          {"metrics_bytes", std::to_string(s.metrics_bytes)},
                                          {"steps_per_epoch", std::to_string(s.steps_per_epoch)},
                                          {"accum_steps", std::to_string(s.accum_steps)},
                                          {"world_size", std::to_string(s.world_size)},
                                          {"config", config_yaml}};
  meta["checksum"] = payload_checksum(t, meta);
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
  if (auto sum = meta.find("checksum"); sum != meta.end() && sum->second != payload_checksum(all, meta))
    throw Error("checkpoint '" + path + "' is damaged: its contents do not match its checksum (" + sum->second +
                "); a disk or copy error changed it after it was written");
  Checkpoint c;
  c.state.step = parse_count(meta, "step", path);
  c.state.epoch = parse_count(meta, "epoch", path);
  c.state.position = parse_count(meta, "position", path);
  c.state.rng_seed = parse_u64(meta, "rng_seed", path);
  c.state.rng_offset = parse_u64(meta, "rng_offset", path);
  c.state.metrics_bytes = static_cast<uint64_t>(parse_count(meta, "metrics_bytes", path));
  if (meta.count("steps_per_epoch")) c.state.steps_per_epoch = parse_count(meta, "steps_per_epoch", path);
  // Written by data-parallel runs before steps_per_epoch was (accum_steps), or without them at all (world_size).
  if (meta.count("accum_steps") || meta.count("steps_per_epoch"))
    c.state.accum_steps = parse_count(meta, "accum_steps", path);
  if (meta.count("world_size")) c.state.world_size = parse_count(meta, "world_size", path);
  if (c.state.world_size < 1) throw Error("checkpoint '" + path + "' is damaged: metadata 'world_size' is 0");
  const int64_t optimizer_steps = parse_count(meta, "optimizer_steps", path);
  check_counters(c.state, optimizer_steps, path);
  c.config_yaml = meta.count("config") ? meta.at("config") : std::string();

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

  opt.set_steps(optimizer_steps);
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
