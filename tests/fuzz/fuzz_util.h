// Shared by the libFuzzer targets (one per parser of untrusted input). The
// readers take paths, so each input is written to a file of this process in
// /dev/shm (memory) first. A mapet::Error is the expected answer to a bad
// input; anything else escaping (another exception, a crash, a sanitizer
// report, an allocation over libFuzzer's limit) is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/tensor.h"

namespace mapet::fuzz {

inline std::string as_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/mapet_fuzz_" + std::to_string(getpid()) + suffix;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

// Runs f, accepting mapet::Error (a bad input, refused with a message) as the normal outcome.
template <class F>
void expect_error_or_success(F f) {
  try {
    f();
  } catch (const Error&) {
  }
}

}  // namespace mapet::fuzz
