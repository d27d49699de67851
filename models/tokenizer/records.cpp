#include "models/tokenizer/records.h"

#include <cstdio>
#include <fstream>

#include "engine/io/safetensors.h"

namespace mapet::tokenizer {

nlohmann::json read_record(const std::string& path) {
  std::ifstream f(path);
  if (!f) return nullptr;
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception&) {
    return nullptr;  // a damaged record only means the output is redone
  }
}

void write_record(const std::string& path, const nlohmann::json& j) { io::write_file_atomic(path, j.dump(2) + "\n"); }

std::string hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string checksum(const Tensor& t) {
  Tensor c = t.contiguous();
  const auto* p = static_cast<const uint8_t*>(c.raw_data());
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < c.nbytes(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return hex64(h);
}

}  // namespace mapet::tokenizer
