#include "engine/io/state_dict.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/io/torch_checkpoint.h"

namespace mapet::io {

namespace {

using pickle::Value;
using pickle::ValuePtr;

enum class Format { safetensors, torch };

Format sniff(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("'" + path + "' is a folder, not a checkpoint file; give the file in it (e.g. " + path +
                "/model.safetensors)");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  uint8_t head[9] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  const auto got = static_cast<size_t>(f.gcount());
  if (got == 0) throw Error("'" + path + "' is empty, not a checkpoint");
  if (got >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return Format::torch;
  if (got >= 2 && head[0] == 0x80 && head[1] == 0x02) return Format::torch;  // legacy torch.save: refused there, by name
  // safetensors: an 8-byte header length, then the JSON header.
  if (got == sizeof head && head[8] == '{') return Format::safetensors;
  char hex[40] = {};
  for (size_t i = 0; i < std::min<size_t>(got, 8); ++i) std::snprintf(hex + 3 * i, 4, "%02x ", head[i]);
  throw Error("'" + path + "' is neither a safetensors file nor a PyTorch checkpoint (torch.save zip); it starts with " +
              "bytes " + std::string(hex, std::strlen(hex) - 1));
}

bool has_tensor_values(const ValuePtr& d) {
  for (const auto& [k, v] : d->entries)
    if (TorchCheckpoint::is_tensor(v)) return true;
  return false;
}

std::string key_list(const ValuePtr& d) {
  std::string s;
  for (const auto& [k, v] : d->entries) s += (s.empty() ? "" : ", ") + (k->is(Value::Kind::string) ? k->text : k->describe());
  return s;
}

// Walks down the preferred keys until a dict holding tensors.
ValuePtr find_state_dict(const TorchCheckpoint& ckpt, bool use_ema, LoadedWeights& out) {
  static const std::vector<std::string> plain{"model", "state_dict", "module", "model_ema", "state_dict_ema"};
  static const std::vector<std::string> ema{"model_ema", "state_dict_ema", "model", "state_dict", "module"};
  ValuePtr d = ckpt.root();
  if (!d->is(Value::Kind::dict)) {
    const bool model_object = d->is(Value::Kind::object);
    throw Error("'" + ckpt.path() + "' holds " + d->describe() +
                (model_object ? ", a pickled Python object, not a state dict; save model.state_dict() instead"
                              : ", not a dict of tensors"));
  }
  for (int depth = 0; depth < 4 && !has_tensor_values(d); ++depth) {
    ValuePtr next;
    for (const std::string& k : use_ema ? ema : plain)
      if (ValuePtr v = d->get(k); v && v->is(Value::Kind::dict)) {
        out.key += (out.key.empty() ? "" : ".") + k;
        out.notes.push_back("using the state dict under '" + out.key + "' (the checkpoint has: " + key_list(d) + ")");
        next = v;
        break;
      }
    if (!next) break;
    d = next;
  }
  if (!has_tensor_values(d))
    throw Error("'" + ckpt.path() + "': no state dict found (no tensors" + (out.key.empty() ? "" : " under '" + out.key + "'") +
                "); its keys: " + key_list(d));
  return d;
}

void strip_module_prefix(const std::string& path, LoadedWeights& w) {
  const std::string prefix = "module.";
  TensorMap renamed;
  size_t stripped = 0;
  for (auto& [name, t] : w.tensors) {
    const bool has = name.rfind(prefix, 0) == 0;
    std::string n = has ? name.substr(prefix.size()) : name;
    stripped += has;
    if (!renamed.emplace(n, t).second)
      throw Error("'" + path + "': two tensors are named '" + n + "' once the 'module.' prefix is removed");
  }
  if (stripped)
    w.notes.push_back("removed the 'module.' prefix (DistributedDataParallel) from " + std::to_string(stripped) + " names");
  w.tensors = std::move(renamed);
}

// A training checkpoint of ours (apps/train/checkpoint.h) names the weights
// "model.<name>" beside "optimizer.*": its model is the state dict.
void unwrap_training_checkpoint(LoadedWeights& w) {
  size_t model = 0, optimizer = 0;
  for (const auto& [name, t] : w.tensors) {
    model += name.rfind("model.", 0) == 0;
    optimizer += name.rfind("optimizer.", 0) == 0;
  }
  if (model == 0 || model + optimizer != w.tensors.size()) return;
  TensorMap inner;
  for (auto& [name, t] : w.tensors)
    if (name.rfind("model.", 0) == 0) inner.emplace(name.substr(6), t);
  w.tensors = std::move(inner);
  w.key = "model";
  w.notes.push_back("a training checkpoint: using its model.* weights (optimizer state skipped)");
}

}  // namespace

LoadedWeights load_weights(const std::string& path, bool use_ema) {
  LoadedWeights w;
  if (sniff(path) == Format::safetensors) {
    w.format = "safetensors";
    w.tensors = load_safetensors(path);
    unwrap_training_checkpoint(w);
  } else {
    w.format = "torch";
    TorchCheckpoint ckpt(path);
    w.warnings = ckpt.warnings();
    ValuePtr d = find_state_dict(ckpt, use_ema, w);
    std::vector<std::string> skipped;
    for (const auto& [k, v] : d->entries) {
      if (!k->is(Value::Kind::string) || !TorchCheckpoint::is_tensor(v)) {
        skipped.push_back(k->is(Value::Kind::string) ? k->text : k->describe());
        continue;
      }
      w.tensors[k->text] = ckpt.tensor(v, k->text);
    }
    if (!skipped.empty()) {
      std::string list;
      for (size_t i = 0; i < skipped.size() && i < 5; ++i) list += (i ? ", " : "") + skipped[i];
      w.notes.push_back("skipped " + std::to_string(skipped.size()) + " entries that are not tensors (" + list +
                        (skipped.size() > 5 ? ", ..." : "") + ")");
    }
  }
  strip_module_prefix(path, w);
  return w;
}

}  // namespace mapet::io
