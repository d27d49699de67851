// YAML run configs for the training commands, the way timm's train.py reads
// them: the file's values become the defaults, and flags given on the command
// line override them. Keys are the options' argparse dest names (the long
// flag with '-' -> '_': --batch-size <-> batch_size); a positional argument's
// key is its name (data_dir).
//
// Keys that are not options of the command:
// - a timm key that cannot change what is computed here (logging, devices,
//   data-loader mechanics: pin_mem, log_wandb, ...) is skipped with a warning,
//   so timm's own config files load;
// - a timm key naming a choice this engine does not have (opt, sched) is
//   accepted only with the value implemented here (adamw, cosine), and
//   augmentations we lack (mixup, cutmix, reprob, ...) only when off;
// - anything else is an error naming the key and the file: a typo must not
//   silently train with a default.
#pragma once
#include <CLI/CLI.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mapet::apps::train {

struct ConfigPolicy {
  std::map<std::string, std::string> ignored;             // key -> why it may be skipped
  std::map<std::string, std::vector<std::string>> fixed;  // key -> the only values accepted (first: ours)
  std::map<std::string, std::string> aliases;             // other spelling -> key of an option
};

// The policy for timm train.py configs (see the list in config.cpp).
const ConfigPolicy& timm_policy();

// "batch_size" for --batch-size; a positional's name.
std::string dest_name(const CLI::Option& opt);

// Sets every option of `cmd` that was not given on the command line from the
// YAML mapping in `path`. Call after cmd has parsed its arguments. Throws
// Error naming the file and key (unknown key, wrong number of values, a value
// the option refuses). Warnings go to stderr unless quiet.
void apply_yaml_config(CLI::App& cmd, const std::string& path, const ConfigPolicy& policy = timm_policy(),
                       bool quiet = false);

// Replaces the value of option `dest` as if it had been given (a setting
// derived after parsing, e.g. --least-number scaled to the patch grid), so that
// the written config holds the value actually used.
void set_option(CLI::App& cmd, const std::string& dest, const std::vector<std::string>& values);

// Every option's value as YAML (dest names, in declaration order), except the
// keys in `skip`. Loading it back with apply_yaml_config restores the run's settings.
std::string config_yaml(const CLI::App& cmd, const std::set<std::string>& skip = {});

// "key: old -> new" for every key whose value differs between two configs
// written by config_yaml (e.g. a checkpoint's and the resumed run's), except `skip`.
std::vector<std::string> config_differences(const std::string& old_yaml, const std::string& new_yaml,
                                            const std::set<std::string>& skip = {});

}  // namespace mapet::apps::train
