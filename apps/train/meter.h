// The terminal side of a training run: a status line after every optimizer
// step, redrawn in place on a terminal and printed every log_interval steps
// otherwise (logs, CI) -- and after this process's first step, so a log shows
// at once that training runs and how fast; with quiet only whole lines (epoch
// summaries) appear.
// Rates and the ETA count from this process's first step, so a resumed run
// does not claim the time of the steps it skipped.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "apps/progress.h"

namespace mapet::apps::train {

class TrainMeter {
 public:
  TrainMeter(int64_t first_step, int64_t total_steps, int64_t log_interval, bool quiet)
      : first_(first_step),
        total_(total_steps),
        every_(std::max<int64_t>(1, log_interval)),
        quiet_(quiet),
        tty_(isatty(fileno(stdout))),
        start_(std::chrono::steady_clock::now()) {}

  // After optimizer step `step` (1-based, global); images: processed by this process so far.
  void step(int64_t step, int64_t images, const std::string& fields) {
    images_ = images;
    if (quiet_ || (!tty_ && step % every_ != 0 && step != total_ && step != first_ + 1)) return;
    const double secs = elapsed(), done = double(step - first_);
    const double eta = done > 0 ? secs / done * double(total_ - step) : 0.0;
    std::printf("%sstep %lld/%lld | %s | %.1f img/s | ETA %s%s", tty_ ? "\r\033[K" : "", (long long)step,
                (long long)total_, fields.c_str(), images_per_second(), Progress::clock(eta).c_str(), tty_ ? "" : "\n");
    std::fflush(stdout);
    open_ = tty_;
  }
  // A line of its own (epoch summaries, notes), below the status line.
  void line(const std::string& s) {
    std::printf("%s%s\n", open_ ? "\n" : "", s.c_str());
    std::fflush(stdout);
    open_ = false;
  }
  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  double images_per_second() const { return elapsed() > 0 ? double(images_) / elapsed() : 0.0; }

 private:
  int64_t first_, total_, every_;
  bool quiet_, tty_, open_ = false;
  int64_t images_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mapet::apps::train
