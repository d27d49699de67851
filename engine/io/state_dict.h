// The weights in a checkpoint file, whatever wrote it: safetensors (ours), or
// a torch.save checkpoint (the official MaPeT / timm / BEiT releases), told
// apart by the file's first bytes, not its name.
//
// In a torch checkpoint the state dict may be the saved object itself or sit
// under a key of it: "model" is preferred, then "state_dict", "module",
// "model_ema", "state_dict_ema" (with use_ema the two EMA keys come first, as
// timm's --use-ema). Everything else in the file (optimizer, epoch, args, ...)
// is skipped without reading its tensors. Our own training checkpoints
// (model.* + optimizer.*) give their model.* weights. A "module." prefix on names
// (DistributedDataParallel) is removed, as timm does.
#pragma once
#include <string>
#include <vector>

#include "engine/io/safetensors.h"

namespace mapet::io {

struct LoadedWeights {
  TensorMap tensors;
  std::string format;               // "safetensors" or "torch"
  std::string key;                  // where the state dict was: "model", ..., or "" (the saved object itself)
  std::vector<std::string> notes;   // what was unwrapped, renamed or skipped, for the user to see
  std::vector<std::string> warnings;  // what looks wrong or unsafe in the file (torch: unexpected globals)
};

// Throws Error naming the file: unreadable, truncated, not a checkpoint, no
// tensors found, or two names equal after removing "module.".
LoadedWeights load_weights(const std::string& path, bool use_ema = false);

}  // namespace mapet::io
