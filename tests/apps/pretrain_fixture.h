// Shared by the `mapet pretrain` tests: a tiny learnable dataset (64 JPEGs of
// 16x16 pixels in 4 classes, an ImageFolder) with its token store, and helpers
// that run the real `mapet` binary.
//
// Every 4x4-pixel patch is one flat grey level from 8; its visual token is
// that level. The level of patch p is a function of the class and p, so a few
// visible patches tell the class and hence the tokens of the others: a tiny
// model can learn it in a few dozen steps (chance: ln 8 = 2.08 nats).
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/token_store.h"
#include "tests/data/data_test_util.h"

namespace mapet::test {

namespace fs = std::filesystem;

inline int fixture_token(int64_t label, int patch) {
  return int((label * 5 + (patch % 4) * (label + 1) + patch / 4) % 8);
}

// Writes root/data/train/c<k>/<i>.jpg and root/tokens.bin.
inline void write_pretrain_fixture(const fs::path& root) {
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 16; ++i) {
      data::Image img(16, 16);
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) {
          const int level = fixture_token(c, (y / 4) * 4 + x / 4);
          const int noise = int((x * 7 + y * 13 + i * 29) % 9) - 4;  // images of a class differ a little
          const uint8_t v = static_cast<uint8_t>(24 + 29 * level + noise);
          uint8_t* p = img.row(y) + x * 3;
          p[0] = p[1] = p[2] = v;
        }
      const fs::path file =
          root / "data/train" / fs::path("c").concat(std::to_string(c)) / fs::path(std::to_string(i)).concat(".jpg");
      data::test::write_bytes(file.string(), data::test::jpeg_of(img, 95));
    }
  data::Dataset ds = data::load_image_folder((root / "data/train").string());
  data::TokenStoreHeader h;
  h.count = ds.size(), h.tokens_per_image = 16, h.vocab_size = 8, h.dataset_hash = ds.file_list_hash();
  data::TokenStoreWriter w((root / "tokens.bin").string(), h);
  for (size_t k = 0; k < ds.size(); ++k) {
    uint16_t row[16];
    for (int p = 0; p < 16; ++p) row[p] = static_cast<uint16_t>(fixture_token(ds.samples[k].label, p));
    w.set(k, row);
  }
  w.finish();
}

// A fresh folder per test (kept when MAPET_KEEP_TEST_DIRS is set, for a look at the runs).
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path =
        fs::temp_directory_path() / (std::string("mapet_pretrain_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    if (std::getenv("MAPET_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

inline std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Starts argv (argv[0] a path) with stdout and stderr going to `log`. One
// compute thread unless MAPET_THREADS says otherwise: the tiny models of the
// tests gain nothing from more, and an OpenMP team on a busy 2-core machine
// can be many times slower.
inline pid_t spawn_program(std::vector<std::string> argv, const std::string& log) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.push_back(*e);
  if (!std::getenv("MAPET_THREADS")) env_strings.push_back("MAPET_THREADS=1");
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Starts `mapet args...` (MAPET_BINARY) as spawn_program does.
inline pid_t spawn_mapet(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all{MAPET_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  return spawn_program(std::move(all), log);
}

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string output;
};

// Runs argv to its end (spawn_program); its exit code and output.
inline RunResult run_to_end(std::vector<std::string> argv, const std::string& log) {
  pid_t pid = spawn_program(std::move(argv), log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

inline RunResult run_mapet(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = spawn_mapet(args, log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

// The per-step records of a metrics.jsonl.
inline std::vector<nlohmann::json> step_records(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step")) out.push_back(j);
  }
  return out;
}

// Runs `mapet args...` and kills it with SIGKILL once its metrics.jsonl holds
// `steps` step records (within two minutes). Returns "" when it was killed so,
// else what went wrong (with the run's output).
inline std::string run_and_kill(const std::vector<std::string>& args, const std::string& metrics, size_t steps,
                                const std::string& log) {
  pid_t pid = spawn_mapet(args, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool killed = false;
  int status = 0;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(metrics) && step_records(metrics).size() >= steps) {
      ::kill(pid, SIGKILL);
      killed = true;
    } else if (::waitpid(pid, &status, WNOHANG) == pid) {
      return "the run ended before it could be killed:\n" + read_text(log);
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  if (!killed) ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  if (!killed || !WIFSIGNALED(status)) return "the run was not killed in time:\n" + read_text(log);
  return "";
}

}  // namespace mapet::test
