// mapet: the command-line tool. `mapet --help` lists the commands.
//
// Started by mpirun / srun, every process is one rank of a data-parallel run
// (engine/distributed): rank 0 prints, every rank reports its own errors, and
// an error on any rank ends them all.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "apps/commands.h"
#include "apps/train/device.h"
#include "engine/cuda/runtime.h"
#include "engine/distributed/communicator.h"
#include "engine/precision.h"
#include "engine/threads.h"

int main(int argc, char** argv) {
  try {
    // --device cuda-sim: mapet-sim runs it (the same commands, CUDA kernels under the SIMT runtime).
    mapet::apps::train::exec_for_device(argc, argv);
    mapet::dist::init(&argc, &argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mapet: error: %s\n", e.what());
    return 1;
  }
  mapet::dist::Communicator& world = mapet::dist::world();
  if (world.size() > 1) {
    // The other commands would run once per rank, writing the same files.
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd != "pretrain" && cmd != "finetune" && cmd != "validate" && cmd.rfind("-", 0) != 0)
      mapet::dist::fail("'" + cmd + "' does not run data-parallel (pretrain, finetune and validate do): run it "
                        "without mpirun / srun");
  }
  if (world.rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;  // one copy of every line
  mapet::init_threads_from_env();
  if (world.size() > 1 && !std::getenv("MAPET_THREADS") && !std::getenv("OMP_NUM_THREADS")) {
    std::string note;
    mapet::set_num_threads(mapet::dist::threads_per_rank(&note));  // the machine's cores shared by its ranks
    if (!note.empty()) std::printf("note: %s\n", note.c_str());
  }
  CLI::App app{"mapet: MaPeT (Masked and Permuted Vision Transformer) pre-training, fine-tuning and validation"};
  app.set_version_flag("--version", [] {
    return "mapet " MAPET_VERSION "\n" + mapet::compute_summary() + "\nCUDA backend: " + mapet::device::linked_backend() +
           (std::string(mapet::device::linked_backend()) == "sim" ? " (mapet-sim: --device cuda-sim)" : "");
  });
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
  mapet::apps::register_study_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    mapet::dist::finalize();  // the same flags on every rank: they all stop here
    return app.exit(e);
  } catch (const std::bad_alloc&) {  // what() would be "std::bad_alloc"
    const char* msg = "out of memory (a size in an input file or a setting may be far too large)";
    if (world.size() > 1) mapet::dist::fail(msg);  // ends every rank, naming this one
    std::fprintf(stderr, "mapet: error: %s\n", msg);
    return 1;
  } catch (const std::exception& e) {
    if (world.size() > 1) mapet::dist::fail(e.what());  // ends every rank, naming this one
    std::fprintf(stderr, "mapet: error: %s\n", e.what());
    return 1;
  }
  mapet::dist::finalize();
  return 0;
}
