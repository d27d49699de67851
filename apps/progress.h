// One-line terminal progress: step/total, loss, rate, ETA. Redraws in place on
// a terminal, prints every `every` steps otherwise (logs, CI).
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace mapet::apps {

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t every = 20)
      : label_(std::move(label)), total_(total), every_(every), tty_(isatty(fileno(stdout))),
        start_(std::chrono::steady_clock::now()) {}

  // items: images processed since the start; extra: e.g. "loss 2.31".
  void update(int64_t step, int64_t items, const std::string& extra) {
    double secs = elapsed();
    double rate = secs > 0 ? static_cast<double>(items) / secs : 0.0;
    double eta = step > 0 ? secs / static_cast<double>(step) * static_cast<double>(total_ - step) : 0.0;
    if (!tty_ && step % every_ != 0 && step != total_) return;
    std::printf("%s%s %lld/%lld | %s | %.1f img/s | ETA %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), extra.c_str(), rate, clock(eta).c_str(),
                tty_ ? "" : "\n");
    std::fflush(stdout);
  }
  void finish() {
    if (tty_) std::printf("\n");
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  static std::string clock(double s) {
    char b[32];
    int t = static_cast<int>(s + 0.5);
    std::snprintf(b, sizeof b, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    return b;
  }

 private:
  std::string label_;
  int64_t total_, every_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mapet::apps
