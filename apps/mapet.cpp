// mapet: the command-line tool. `mapet --help` lists the commands.
#include <cstdio>
#include <exception>
#include <new>

#include "apps/commands.h"
#include "engine/precision.h"
#include "engine/threads.h"

int main(int argc, char** argv) {
  mapet::init_threads_from_env();
  CLI::App app{"mapet: MaPeT (Masked and Permuted Vision Transformer) pre-training, fine-tuning and validation"};
  app.set_version_flag("--version", [] { return "mapet " MAPET_VERSION "\n" + mapet::compute_summary(); });
  app.require_subcommand(1);
  mapet::apps::register_debug_step(app);
  mapet::apps::register_train_classifier(app);
  mapet::apps::register_prepare(app);
  mapet::apps::register_show_batch(app);
  mapet::apps::register_pretrain(app);
  mapet::apps::register_finetune(app);
  mapet::apps::register_validate(app);
  mapet::apps::register_tokenize(app);
  mapet::apps::register_show_tokens(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::bad_alloc&) {  // what() would be "std::bad_alloc"
    std::fprintf(stderr, "mapet: error: out of memory (a size in an input file or a setting may be far too large)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mapet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
