// mapet study-report STUDY_DIR
// The table of `make study` (tools/study.sh): every seed's fine-tuning and
// linear-probe results reduced to mean +- standard deviation per pre-training
// (apps/train/study.h), written as results.md, results.json and results.png.
#include <cstdio>

#include "apps/commands.h"
#include "apps/train/study.h"

namespace mapet::apps {

void register_study_report(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* c = app.add_subcommand("study-report", "Mean and std over seeds of a study folder (make study)");
  c->add_option("study_dir", *dir, "The folder tools/study.sh wrote (seed-<n>/finetune-<arm>, probe-<arm>)")->required();
  c->callback([dir] {
    std::printf("%s\nwrote %s/results.md, results.json, results.png\n", train::write_study_report(*dir).c_str(),
                dir->c_str());
  });
}

}  // namespace mapet::apps
