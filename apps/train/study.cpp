#include "apps/train/study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "apps/train/plot.h"
#include "engine/io/safetensors.h"
#include "engine/tensor.h"

namespace mapet::apps::train {

namespace {

namespace fs = std::filesystem;

struct Arm {
  const char* name;
  const char* label;
  uint32_t rgb;
};
constexpr Arm kArms[] = {{"mapet", "MaPeT", 0x1f77b4},
                         {"pet", "PeT", 0x2ca02c},
                         {"mim", "MIM (BEiT-style)", 0xff7f0e},
                         {"scratch", "from scratch", 0x7f7f7f}};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw Error("study: '" + p.string() + "' is missing (did that run finish?)");
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("study: '" + p.string() + "' is not a JSON object");
  return j;
}

double number(const nlohmann::json& j, const char* key, const fs::path& p) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) throw Error("study: '" + p.string() + "' has no number '" + key + "'");
  return it->get<double>();
}

// One protocol's rows over the seeds; empty when no seed has its folders.
std::vector<StudyRow> read_protocol(const fs::path& dir, const std::vector<int>& seeds, const std::string& prefix) {
  bool any = false;
  for (int s : seeds)
    for (const Arm& a : kArms) any = any || fs::exists(dir / ("seed-" + std::to_string(s)) / (prefix + a.name));
  if (!any) return {};
  std::vector<StudyRow> rows;
  for (const Arm& a : kArms) {
    StudyRow r{a.name, a.label, {}, {}, {}};
    for (int s : seeds) {
      const fs::path p = dir / ("seed-" + std::to_string(s)) / (prefix + a.name) / "results.json";
      const nlohmann::json j = read_json(p);
      r.best_top1.push_back(number(j, "best_top1", p));
      r.final_top1.push_back(number(j, "final_top1", p));
      r.final_top5.push_back(number(j, "final_top5", p));
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string cell(const std::vector<double>& v) {
  const MeanStd m = mean_std(v);
  char b[64];
  if (m.n < 2)
    std::snprintf(b, sizeof b, "%.2f", m.mean);
  else
    std::snprintf(b, sizeof b, "%.2f ± %.2f", m.mean, m.std);
  return b;
}

nlohmann::ordered_json stat(const std::vector<double>& v) {
  const MeanStd m = mean_std(v);
  nlohmann::ordered_json j;
  j["mean"] = m.mean;
  j["std"] = m.n < 2 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(m.std);
  j["values"] = v;
  return j;
}

nlohmann::ordered_json rows_json(const std::vector<StudyRow>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const StudyRow& r : rows) {
    nlohmann::ordered_json j;
    j["arm"] = r.arm, j["label"] = r.label;
    j["best_top1"] = stat(r.best_top1), j["final_top1"] = stat(r.final_top1), j["final_top5"] = stat(r.final_top5);
    out.push_back(j);
  }
  return out;
}

void table(std::string& md, const std::vector<StudyRow>& rows, const char* title) {
  md += std::string("\n") + title + "\n\n";
  md += "| pre-training | top-1 (best epoch) | top-1 (last epoch) | top-5 (last epoch) |\n| --- | --- | --- | --- |\n";
  for (const StudyRow& r : rows)
    md += "| " + r.label + " | " + cell(r.best_top1) + " | " + cell(r.final_top1) + " | " + cell(r.final_top5) + " |\n";
}

Panel bars(const std::vector<StudyRow>& rows, const std::string& title) {
  Panel p{title, "best top-1 (%), mean and std over seeds", {}, {}};
  for (const StudyRow& r : rows) {
    const MeanStd m = mean_std(r.best_top1);
    uint32_t rgb = 0x1f77b4;
    for (const Arm& a : kArms)
      if (r.arm == a.name) rgb = a.rgb;
    p.bars.push_back(Bar{r.arm, m.mean, m.n < 2 ? 0.0 : m.std, rgb});
  }
  return p;
}

}  // namespace

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd m;
  m.n = int(v.size());
  if (v.empty()) return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(), 0};
  for (double x : v) m.mean += x;
  m.mean /= double(v.size());
  if (v.size() < 2) {
    m.std = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  double ss = 0;
  for (double x : v) ss += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(ss / double(v.size() - 1));
  return m;
}

StudyTable read_study(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("study: '" + dir + "' is not a folder");
  StudyTable t;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.rfind("seed-", 0) != 0) continue;
    const std::string digits = n.substr(5);
    if (digits.empty() || digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    t.seeds.push_back(std::stoi(digits));
  }
  if (t.seeds.empty()) throw Error("study: '" + dir + "' holds no seed-<n> folders (a tools/study.sh output folder?)");
  std::sort(t.seeds.begin(), t.seeds.end());
  t.finetune = read_protocol(dir, t.seeds, "finetune-");
  t.probe = read_protocol(dir, t.seeds, "probe-");
  if (t.finetune.empty() && t.probe.empty()) throw Error("study: '" + dir + "' holds no finished runs");
  return t;
}

nlohmann::ordered_json study_json(const StudyTable& t, const nlohmann::json& settings) {
  nlohmann::ordered_json j;
  j["settings"] = settings;
  j["seeds"] = t.seeds;
  j["statistic"] = "mean and sample standard deviation (n - 1) over the seeds";
  if (!t.finetune.empty()) j["finetune"] = rows_json(t.finetune);
  if (!t.probe.empty()) j["linear_probe"] = rows_json(t.probe);
  return j;
}

std::string study_markdown(const StudyTable& t, const std::string& description) {
  std::string md = description.empty() ? "" : description + "\n";
  md += "\nMean ± standard deviation over " + std::to_string(t.seeds.size()) + " seed" +
        (t.seeds.size() == 1 ? "" : "s") + " (";
  for (size_t i = 0; i < t.seeds.size(); ++i) md += (i ? ", " : "") + std::to_string(t.seeds[i]);
  md += "); the seed sets the pre-training (initialisation, permutations, masks) and the fine-tuning.\n";
  if (!t.finetune.empty()) table(md, t.finetune, "Fine-tuning (the whole network):");
  if (!t.probe.empty()) table(md, t.probe, "Linear probing (frozen backbone, a linear head on average-pooled features):");
  return md;
}

std::string write_study_report(const std::string& dir) {
  const StudyTable t = read_study(dir);
  nlohmann::json settings = nlohmann::json::object();
  std::string description;
  if (fs::exists(fs::path(dir) / "study.json")) {
    settings = read_json(fs::path(dir) / "study.json");
    description = settings.value("description", "");
  }
  const std::string md = study_markdown(t, description);
  io::write_file_atomic(dir + "/results.json", study_json(t, settings).dump(2) + "\n");
  io::write_file_atomic(dir + "/results.md", md);
  Figure f;
  if (!t.finetune.empty()) f.panels.push_back(bars(t.finetune, "fine-tuning"));
  if (!t.probe.empty()) f.panels.push_back(bars(t.probe, "linear probe"));
  write_figure(f, dir + "/results");
  return md;
}

}  // namespace mapet::apps::train
