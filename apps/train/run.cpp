#include "apps/train/run.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "apps/train/config.h"
#include "engine/checked.h"
#include "engine/io/safetensors.h"
#include "engine/precision.h"

namespace mapet::apps::train {

namespace fs = std::filesystem;

std::set<std::string> load_settings(CLI::App& cmd, const std::string& config, const std::string& resume) {
  std::set<std::string> cli;
  for (const CLI::Option* o : cmd.get_options())
    if (o->count() > 0) cli.insert(dest_name(*o));
  if (!resume.empty()) checkpoint_path(resume);  // a wrong --resume is the first thing to hear about
  std::string file = config;
  if (file.empty() && !resume.empty()) {
    fs::path dir = fs::is_directory(resume) ? fs::path(resume) : fs::path(resume).parent_path();
    if (fs::exists(dir / "config.yaml")) file = (dir / "config.yaml").string();
  }
  if (!file.empty()) apply_yaml_config(cmd, file);
  // Continue in the checkpoint's own folder, whatever `output:` its config.yaml holds (the folder may have been
  // moved or copied, or the file edited): only --output on the command line sends the run elsewhere.
  if (!resume.empty() && !cli.count("output")) {
    const fs::path dir = fs::is_directory(resume) ? fs::path(resume) : fs::path(resume).parent_path();
    set_option(cmd, "output", {dir.empty() ? std::string(".") : dir.string()});
  }
  return cli;
}

void resolve_accumulation(CLI::App& cmd, const std::set<std::string>& cli, int batch_size, int64_t total_batch,
                          int64_t accum_steps) {
  CLI::Option* total = cmd.get_option("--total-batch");
  CLI::Option* accum = cmd.get_option("--accum-steps");
  auto source = [&](const std::string& key, const CLI::Option* o) { return cli.count(key) ? 2 : o->count() > 0 ? 1 : 0; };
  const int total_src = source("total_batch", total), accum_src = source("accum_steps", accum);
  if (batch_size < 1) throw Error("--batch-size must be >= 1");
  if (total_batch > 0 && total_src >= accum_src) {
    if (total_batch % batch_size != 0)
      throw Error("--total-batch " + std::to_string(total_batch) + " is not a multiple of --batch-size " +
                  std::to_string(batch_size));
    if (total_src == 2 && accum_src == 2 && accum_steps != total_batch / batch_size)
      throw Error("--accum-steps " + std::to_string(accum_steps) + " disagrees with --total-batch " +
                  std::to_string(total_batch) + " / --batch-size " + std::to_string(batch_size));
    set_option(cmd, "accum_steps", {std::to_string(total_batch / batch_size)});
  } else {
    if (accum_steps < 1) throw Error("--accum-steps must be >= 1");
    set_option(cmd, "total_batch", {std::to_string(checked_mul(int64_t{batch_size}, accum_steps, "--batch-size x --accum-steps"))});
  }
}

namespace {

// Where --resume may continue from, best first: the checkpoint it names and, for a run's last
// checkpoint, the previous one kept beside it.
std::vector<std::string> resume_candidates(const std::string& resume) {
  const std::string first = checkpoint_path(resume);
  std::vector<std::string> out{first};
  const fs::path previous = fs::path(first).parent_path() / kPreviousCheckpoint;
  if (fs::path(first).filename() == kLastCheckpoint && fs::exists(previous)) out.push_back(previous.string());
  return out;
}

// Makes `keep` a copy of `path` (a hard link when the file system allows), atomically.
void keep_copy(const std::string& path, const std::string& keep) {
  const std::string tmp = keep + ".tmp." + std::to_string(::getpid());
  fs::remove(tmp);
  std::error_code ec;
  fs::create_hard_link(path, tmp, ec);
  if (ec) fs::copy_file(path, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, keep);
  fs::remove(tmp, ec);  // still there when keep already was that file (a run killed between the two steps of a save)
}

}  // namespace

RunFolder::RunFolder(std::string output, const std::string& resume, const nn::Module& model, Trainer& trainer,
                     Generator& rng, std::string config_text, int64_t accum_steps, int64_t steps_per_epoch,
                     const std::set<std::string>& cosmetic)
    : lock_(std::make_unique<FolderLock>(output)), output_(std::move(output)), config_text_(std::move(config_text)),
      model_(model), trainer_(trainer), rng_(rng), accum_steps_(accum_steps), steps_per_epoch_(steps_per_epoch) {
  // Temp files of atomic writes that a killed run left behind (nobody else writes here: we hold the lock).
  for (const auto& e : fs::directory_iterator(output_))
    if (e.is_regular_file() && e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path());
  const std::string last = path(kLastCheckpoint), metrics_path = path("metrics.jsonl");
  if (resume.empty()) {
    if (fs::exists(last))
      throw Error("--output '" + output_ + "' already holds a run (" + kLastCheckpoint + "): --resume " + output_ +
                  " to continue it, or choose another --output");
  } else {
    const std::vector<std::string> candidates = resume_candidates(resume);
    std::string from, damage;
    Checkpoint ck;
    for (const std::string& c : candidates) {
      try {
        ck = load_checkpoint(c, model, trainer.optimizer());
        from = c;
        break;
      } catch (const Error& e) {
        damage += (damage.empty() ? "" : "; ") + std::string(e.what());
      }
    }
    if (from.empty())
      throw Error(damage + (candidates.size() > 1 ? "" : " (no " + std::string(kPreviousCheckpoint) + " to fall back on)"));
    keep_last_ = from == candidates.front();
    if (!keep_last_)
      std::printf("note: %s\nnote: resuming from the previous checkpoint, %s, instead\n", damage.c_str(), from.c_str());
    st_ = ck.state;
    trainer.set_steps_done(st_.step);
    rng.set_state(st_.rng_seed, st_.rng_offset);
    if (st_.position % accum_steps != 0)
      throw Error("checkpoint '" + from + "' stopped at batch " + std::to_string(st_.position) +
                  " of its epoch, which is not a multiple of --accum-steps " + std::to_string(accum_steps) +
                  "; resume with the run's accum_steps");
    // Epochs counted from 1, as the progress lines count them.
    std::printf("resuming from %s: step %lld, epoch %lld at batch %lld\n", from.c_str(), (long long)st_.step,
                (long long)st_.epoch + 1, (long long)st_.position);
    for (const std::string& d : config_differences(ck.config_yaml, config_text_, cosmetic))
      std::printf("note: setting changed since the checkpoint: %s\n", d.c_str());
    // Continuing in the checkpoint's own folder: its metrics.jsonl goes back to what the checkpoint had seen.
    const bool same_folder = fs::weakly_canonical(fs::path(from).parent_path()) == fs::weakly_canonical(output_);
    if (same_folder)
      keep_metrics_ = int64_t(st_.metrics_bytes);
    else if (fs::exists(metrics_path))
      throw Error("--output '" + output_ + "' already holds a run; resume into the checkpoint's own folder or a new one");
  }
  // What ran is a comment: the settings alone decide whether a resume changed anything.
  io::write_file_atomic(path("config.yaml"), "# " + compute_summary() + "\n" + config_text_);
  metrics_ = std::make_unique<MetricsLog>(metrics_path, keep_metrics_);
}

std::vector<nlohmann::json> RunFolder::kept_records() const {
  return keep_metrics_ >= 0 ? read_metrics(metrics_->path()) : std::vector<nlohmann::json>{};
}

void RunFolder::save(const std::string& file) {
  if (file == kLastCheckpoint) {
    if (keep_last_ && fs::exists(path(file))) keep_copy(path(file), path(kPreviousCheckpoint));
    keep_last_ = true;
  }
  st_.steps_per_epoch = steps_per_epoch_, st_.accum_steps = accum_steps_;
  st_.step = trainer_.steps_done();
  st_.rng_seed = rng_.seed(), st_.rng_offset = rng_.offset();
  st_.metrics_bytes = metrics_->bytes();
  save_checkpoint(path(file), model_, trainer_.optimizer(), st_, config_text_);
  if (file == kLastCheckpoint) last_save_ = std::chrono::steady_clock::now();
}

void RunFolder::set_recovery(int64_t steps, double minutes) {
  recovery_steps_ = steps, recovery_seconds_ = 60 * minutes;
}

void RunFolder::recovery_point() {
  const int64_t step = trainer_.steps_done();
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_save_).count();
  if ((recovery_steps_ > 0 && step % recovery_steps_ == 0) || (recovery_seconds_ > 0 && since >= recovery_seconds_))
    save(kLastCheckpoint);
}

Error RunFolder::stopped(const NonFinite& e, int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch) const {
  const std::string last = path(kLastCheckpoint);
  return Error(std::string(e.what()) + " (epoch " + std::to_string(epoch) + ", step " + std::to_string(step_in_epoch) +
               " of " + std::to_string(steps_per_epoch) + " in the epoch); stopping. " +
               (fs::exists(last) ? "The last good checkpoint, " + last + ", is from step " +
                                       std::to_string(checkpoint_step(last)) + "; --resume " + output_ +
                                       " with a lower --lr to go on from there."
                                 : std::string("No checkpoint had been written yet.")));
}

}  // namespace mapet::apps::train
