#include "models/clip_weights.h"

namespace mapet::models {

ClipWeights ClipWeights::load(const std::string& path) { return ClipWeights(io::load_safetensors(path), "'" + path + "'"); }

Tensor ClipWeights::get(const std::string& name, const Shape& shape) const {
  auto it = t_.find(name);
  if (it == t_.end())
    throw Error("CLIP weights " + what_ + ": missing tensor '" + name + "'" +
                (shape.empty() ? std::string() : " " + shape_str(shape)) +
                " (expected OpenAI's names, as tools/convert_clip.py writes them)");
  const Tensor& t = it->second;
  if (!shape.empty() && t.shape() != shape)
    throw Error("CLIP weights " + what_ + ": tensor '" + name + "' has shape " + shape_str(t.shape()) + ", expected " +
                shape_str(shape));
  if (t.dtype() != DType::f32 && t.dtype() != DType::f16 && t.dtype() != DType::bf16)
    throw Error("CLIP weights " + what_ + ": tensor '" + name + "' is " + dtype_name(t.dtype()) + ", expected a float type");
  return t.to(DType::f32).contiguous();
}

int64_t ClipWeights::count_indexed(const std::string& prefix) const {
  int64_t n = 0;
  while (true) {
    const std::string p = prefix + std::to_string(n) + ".";
    auto it = t_.lower_bound(p);
    if (it == t_.end() || it->first.compare(0, p.size(), p) != 0) return n;
    ++n;
  }
}

}  // namespace mapet::models
