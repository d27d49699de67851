// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// raw little-endian data. The native checkpoint format of this project.
#pragma once
#include <map>
#include <string>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace mapet::io {

using TensorMap = std::map<std::string, Tensor>;

// Throws Error naming the file and, where it applies, the tensor at fault.
TensorMap load_safetensors(const std::string& path);
// Written to path.tmp, fsync'ed, then renamed over path: a crash never leaves a half file.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});
std::map<std::string, std::string> safetensors_metadata(const std::string& path);

// Copies tensors into the module's parameters. Every parameter must be present
// with the same shape (f32, or bf16/f16 converted); an unknown name is an error
// unless allow_unexpected. `what` names the source in messages.
void load_into(const nn::Module& m, const TensorMap& tensors, const std::string& what, bool allow_unexpected = false);
TensorMap state_dict(const nn::Module& m);  // name -> value (shares storage)

// Writes bytes to path atomically (temp file, fsync, rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace mapet::io
