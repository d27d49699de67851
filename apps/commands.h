// Each `mapet <command>` lives in apps/cmd_<command>.cpp and registers itself here.
#pragma once
#include <CLI/CLI.hpp>

namespace mapet::apps {

void register_debug_step(CLI::App& app);
void register_train_classifier(CLI::App& app);
void register_prepare(CLI::App& app);
void register_show_batch(CLI::App& app);
void register_pretrain(CLI::App& app);
void register_finetune(CLI::App& app);
void register_validate(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_show_tokens(CLI::App& app);
void register_study_report(CLI::App& app);

}  // namespace mapet::apps
