// YAML run configs (apps/train/config.cpp) against the options of a training command:
// TrainFlags, ArchFlags, TransformFlags and a few of pretrain's own; then the written
// config must load back, and the checks that follow a config (apply_input_size,
// trainer_config, loader limits) must answer with an Error or accept.
#include "apps/train/config.h"
#include "apps/train/train_flags.h"
#include "data/transform_flags.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mapet;

struct Command {
  CLI::App app{"fuzz"};
  CLI::App* cmd;
  std::string data_dir, model = "mapet_tiny_patch16_224", tokens;
  int64_t least_number = 50;
  apps::train::TrainFlags t;
  apps::train::ArchFlags arch;
  data::TransformFlags tf;

  Command() {
    cmd = app.add_subcommand("pretrain");
    cmd->option_defaults()->always_capture_default();
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("data_dir", data_dir);
    cmd->add_option("--model", model);
    cmd->add_option("--tokens", tokens);
    cmd->add_option("--least-number", least_number);
    t.add_to(cmd);
    arch.add_to(cmd);
    tf.add_to(cmd);
    app.parse(std::vector<std::string>{"pretrain"});
  }
};

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::as_file(data, size, ".yaml");
  Command c;
  try {
    apps::train::apply_yaml_config(*c.cmd, path, apps::train::timm_policy(), /*quiet=*/true);
  } catch (const Error&) {
    return 0;
  }
  fuzz::expect_error_or_success([&] {
    c.arch.apply_input_size(*c.cmd);
    c.t.trainer_config(1000);
  });
  // What a run writes must load back into a fresh command to the same settings.
  const std::string written = apps::train::config_yaml(*c.cmd);
  const std::string again = fuzz::as_file(reinterpret_cast<const uint8_t*>(written.data()), written.size(), ".again.yaml");
  Command d;
  try {
    apps::train::apply_yaml_config(*d.cmd, again, apps::train::timm_policy(), true);
  } catch (const Error& e) {
    std::fprintf(stderr, "a written config does not load back: %s\n%s", e.what(), written.c_str());
    std::abort();
  }
  if (!apps::train::config_differences(written, apps::train::config_yaml(*d.cmd)).empty()) {
    std::fprintf(stderr, "a written config loads back to other settings:\n%s", written.c_str());
    std::abort();
  }
  return 0;
}
