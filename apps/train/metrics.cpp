#include "apps/train/metrics.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/tensor.h"

namespace mapet::apps::train {

MetricsLog::MetricsLog(std::string path, int64_t keep_bytes) : path_(std::move(path)) {
  namespace fs = std::filesystem;
  if (keep_bytes >= 0 && fs::exists(path_)) {
    const auto size = static_cast<int64_t>(fs::file_size(path_));
    if (size < keep_bytes)
      throw Error("'" + path_ + "' is shorter (" + std::to_string(size) +
                  " bytes) than when the checkpoint was saved (" + std::to_string(keep_bytes) +
                  " bytes); it was changed after the run");
    fs::resize_file(path_, static_cast<uintmax_t>(keep_bytes));  // drop lines of steps the resumed run will redo
    bytes_ = static_cast<uint64_t>(keep_bytes);
  }
  f_ = std::fopen(path_.c_str(), keep_bytes >= 0 ? "ab" : "wb");
  if (!f_) throw Error("cannot write '" + path_ + "': " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::write(const nlohmann::ordered_json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    throw Error("writing '" + path_ + "' failed: " + std::strerror(errno));
  bytes_ += line.size();
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read '" + path + "'");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

double short_float(float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  *r.ptr = 0;
  return std::strtod(buf, nullptr);
}

}  // namespace mapet::apps::train
