// `make study`'s table: the runs of tools/study.sh, one folder per seed
// (seed-<n>/finetune-<arm>, seed-<n>/probe-<arm>, each with the results.json
// `mapet finetune` writes), reduced to mean and standard deviation per arm
// and protocol, written as results.md, results.json and results.png/.svg.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mapet::apps::train {

// The mean and the sample standard deviation (n - 1; NaN below two values).
struct MeanStd {
  double mean = 0, std = 0;
  int n = 0;
};
MeanStd mean_std(const std::vector<double>& v);

struct StudyRow {
  std::string arm, label;  // "mapet", "MaPeT"
  std::vector<double> best_top1, final_top1, final_top5;  // one per seed, in seed order
};

struct StudyTable {
  std::vector<int> seeds;
  std::vector<StudyRow> finetune, probe;  // probe is empty when the study ran no linear probe
};

// Reads <dir>/seed-*/{finetune,probe}-<arm>/results.json for the arms mapet, pet, mim, scratch.
// Every seed must hold every arm of a protocol it has: a missing or damaged file is an Error naming it.
StudyTable read_study(const std::string& dir);

nlohmann::ordered_json study_json(const StudyTable& t, const nlohmann::json& settings);
std::string study_markdown(const StudyTable& t, const std::string& description);
// Writes results.json, results.md and results.png/.svg into dir; returns the markdown.
std::string write_study_report(const std::string& dir);

}  // namespace mapet::apps::train
