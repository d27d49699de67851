// The small JSON files that record how a tokenize output was made (next to
// it, as <file>.json), so that a later run can tell whether the output is
// still valid for its settings (resume, reuse) or must be redone.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "engine/tensor.h"

namespace mapet::tokenizer {

// The JSON object in `path`, or null when the file is missing or unreadable.
nlohmann::json read_record(const std::string& path);
// Written atomically (temp file, fsync, rename).
void write_record(const std::string& path, const nlohmann::json& j);
// FNV-1a 64 of the tensor's bytes, as 16 hex digits.
std::string checksum(const Tensor& t);
std::string hex64(uint64_t v);

}  // namespace mapet::tokenizer
