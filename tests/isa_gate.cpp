// Linked into every test binary (tests/CMakeLists.txt).
//
// ctest runs the kernel suites once more per instruction-set level
// (tests/CMakeLists.txt: MAPET_MAX_CPU_ISA=<level> MAPET_TEST_REQUIRE_ISA=<level>).
// A level this CPU lacks is skipped, saying so (exit 77 = skipped for ctest);
// so is its own level, which the plain run of the suite already covers.
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "kernels/cpu/isa.h"

namespace {
const bool g_isa_checked = [] {
  const char* want = std::getenv("MAPET_TEST_REQUIRE_ISA");
  if (!want || !*want) return true;
  const std::optional<mapet::cpu::Isa> level = mapet::cpu::parse_isa(want);
  if (!level) {
    std::fprintf(stderr, "MAPET_TEST_REQUIRE_ISA='%s' is not a level\n", want);
    std::exit(1);
  }
  const mapet::cpu::Isa cpu = mapet::cpu::detected_isa();
  if (*level > cpu) {
    std::printf("skipped: this CPU runs up to %s, not %s\n", mapet::cpu::isa_name(cpu), want);
    std::exit(77);
  }
  if (*level == cpu) {
    std::printf("skipped: %s is this CPU's own level, run by the plain test entries\n", want);
    std::exit(77);
  }
  std::printf("forcing the %s path (CPU: %s)\n", want, mapet::cpu::isa_name(cpu));
  return true;
}();
}  // namespace
