// metrics.jsonl: one JSON object per line, appended as training goes (per
// optimizer step, plus per-epoch summaries). Numbers are written so they read
// back to the same bits (float losses included), which the resume test needs.
#pragma once
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mapet::apps::train {

class MetricsLog {
 public:
  // keep_bytes < 0: start a fresh file. Otherwise keep the first keep_bytes
  // bytes (what the checkpoint being resumed had seen) and append after them.
  MetricsLog(std::string path, int64_t keep_bytes = -1);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // One line, keys in the order given, flushed to the OS (so it survives kill -9).
  void write(const nlohmann::ordered_json& record);
  uint64_t bytes() const { return bytes_; }  // file length so far
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t bytes_ = 0;
};

// Every record of a metrics.jsonl (a torn last line, from a crash, is skipped).
std::vector<nlohmann::json> read_metrics(const std::string& path);

// f as the shortest decimal that reads back to the same float (1.5e-3, not
// 0.001500000071246177): what a float metric should look like in the log.
double short_float(float f);

}  // namespace mapet::apps::train
