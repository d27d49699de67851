// Running `mapet` under `mpirun -np N` from a test, and finding its ranks'
// processes (children of mpirun with OMPI_COMM_WORLD_RANK in their
// environment) to stop or kill one of them.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/apps/pretrain_fixture.h"

namespace mapet::test {

// mpirun -np n mapet args... (--oversubscribe: more ranks than cores is fine in a test).
inline std::vector<std::string> mpirun_mapet(int n, const std::vector<std::string>& args) {
  std::vector<std::string> a{MAPET_MPIEXEC, "--oversubscribe", "-np", std::to_string(n), MAPET_BINARY};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

inline std::vector<std::string> plain_mapet(const std::vector<std::string>& args) {
  std::vector<std::string> a{MAPET_BINARY};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

// Waits up to `seconds`; the exit code (-1: killed by a signal), or -2 on timeout (the process is then killed).
inline int wait_for(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -2;
}

inline RunResult run_program(const std::vector<std::string>& argv, const std::string& log, double seconds = 300) {
  const int code = wait_for(spawn_program(argv, log), seconds);
  return {code, read_text(log)};
}

// The pid of rank `rank` among mpirun's children; 0 when there is none (yet).
inline pid_t rank_pid(pid_t mpirun, int rank) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != mpirun) continue;
    std::ifstream env(e.path() / "environ");
    const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
    for (std::string var; std::getline(env, var, '\0');)
      if (var == want) return pid_t(std::stol(name));
  }
  return 0;
}

// Starts `argv` (an mpirun), waits until `metrics` holds `steps` step records,
// then sends `sig` to rank `rank`. Returns mpirun's pid and the rank's pid
// (0 if that moment never came within two minutes).
struct Signalled {
  pid_t mpirun = 0, rank = 0;
};
inline Signalled run_and_signal(const std::vector<std::string>& argv, const std::string& log,
                                const std::string& metrics, size_t steps, int rank, int sig) {
  Signalled s;
  s.mpirun = spawn_program(argv, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(s.mpirun, &status, WNOHANG) == s.mpirun) {
      s.mpirun = 0;  // ended by itself
      return s;
    }
    if (std::filesystem::exists(metrics) && step_records(metrics).size() >= steps) {
      s.rank = rank_pid(s.mpirun, rank);
      if (s.rank) ::kill(s.rank, sig);
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s;
}

}  // namespace mapet::test
