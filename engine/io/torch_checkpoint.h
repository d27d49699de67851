// PyTorch checkpoints as torch.save writes them (PyTorch >= 1.6, the zip
// format): a ZIP archive `<name>/data.pkl` (a pickle of the saved object, in
// which every tensor is a call of torch._utils._rebuild_tensor_v2 on a storage
// named by a persistent id) plus one entry `<name>/data/<key>` of raw
// little-endian bytes per storage.
//
// Tensors are views: storage offset, sizes and strides (in elements) are read
// as saved, so a non-contiguous saved view (a transpose, a slice of a shared
// storage) comes out as the same values, made contiguous.
// Storages: FloatStorage (f32), HalfStorage (f16), BFloat16Storage (bf16),
// LongStorage (i64), IntStorage (i32), ByteStorage and BoolStorage (u8).
// Anything else (e.g. DoubleStorage) is an Error naming the tensor.
//
// Not supported: the legacy format of PyTorch < 1.6 (or
// torch.save(..., _use_new_zipfile_serialization=False)), a sequence of raw
// pickles; it is recognised and refused with advice to re-save it. Big-endian
// checkpoints are refused too.
//
// Globals: nothing in the pickle is ever run, but a global that names a way to
// run code (os.system, subprocess.*, builtins.eval, ...) marks a malicious file
// and is refused; any other global outside torch.load(weights_only=True)'s
// allowlist and the metadata training scripts save (argparse.Namespace, numpy
// scalars) is listed in warnings() for the user to see.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/io/pickle.h"
#include "engine/io/zip.h"
#include "engine/tensor.h"

namespace mapet::io {

class TorchCheckpoint {
 public:
  // Opens the archive and unpickles data.pkl (tensor bytes are read later, on
  // demand). Throws Error naming the file.
  explicit TorchCheckpoint(const std::string& path);

  const std::string& path() const { return zip_.path(); }
  // The saved object: usually a dict (a state dict, or {"model": state dict, ...}).
  const pickle::ValuePtr& root() const { return root_; }
  // One line per global outside the allowlist (see above), naming it and its byte offset.
  const std::vector<std::string>& warnings() const { return warnings_; }

  // True when v is a saved tensor (or nn.Parameter).
  static bool is_tensor(const pickle::ValuePtr& v);
  // Copies tensor v out of its storage into a fresh contiguous Tensor; `name`
  // is used in messages. Throws Error naming the file and tensor.
  Tensor tensor(const pickle::ValuePtr& v, const std::string& name) const;

 private:
  ZipArchive zip_;
  std::string prefix_;  // "<name>/", the archive's top folder
  pickle::ValuePtr root_;
  std::vector<std::string> warnings_;
  mutable std::set<std::string> verified_;  // storages whose CRC-32 was checked
};

// True when the file starts like a legacy (pre-zip) torch.save file.
bool is_legacy_torch_file(const std::string& path);

}  // namespace mapet::io
