// Reading OpenAI CLIP image-encoder weights (converted to safetensors with
// OpenAI's own names, tools/convert_clip.py): typed, shape-checked access
// whose errors name the file and the tensor.
#pragma once
#include <string>

#include "engine/io/safetensors.h"

namespace mapet::models {

class ClipWeights {
 public:
  // what: the source in messages (usually the file name).
  ClipWeights(io::TensorMap tensors, std::string what) : t_(std::move(tensors)), what_(std::move(what)) {}
  static ClipWeights load(const std::string& path);

  bool has(const std::string& name) const { return t_.count(name) > 0; }
  // The tensor as f32 (f16/bf16 converted; an f32 tensor is shared with the
  // map, not copied: do not write to it). Throws naming it when it is
  // missing or, when `shape` is given, has another shape.
  Tensor get(const std::string& name, const Shape& shape = {}) const;
  // How many of prefix0, prefix1, ... exist (e.g. "visual.layer3." -> blocks).
  int64_t count_indexed(const std::string& prefix) const;
  const std::string& what() const { return what_; }
  const io::TensorMap& tensors() const { return t_; }

 private:
  io::TensorMap t_;
  std::string what_;
};

}  // namespace mapet::models
