// Runs the real `mapet` binary (MAPET_BINARY, set by tests/CMakeLists.txt) and
// captures its exit status and combined stdout/stderr, for the app tests.
#pragma once
#include <cstdio>
#include <string>

namespace mapet::test {

struct ProcResult {
  int status;  // as pclose returns it: 0 on success
  std::string output;
};

inline ProcResult run_mapet(const std::string& args) {
  std::string cmd = std::string(MAPET_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int st = p ? pclose(p) : -1;
  return {st, out};
}

}  // namespace mapet::test
