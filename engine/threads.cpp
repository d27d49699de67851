#include "engine/threads.h"

#include <omp.h>
#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace mapet {

namespace {

// The quota in CPUs, rounded up, of a quota/period pair in microseconds; 0 when there is none.
int quota_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

std::string read_line(const char* path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

}  // namespace

int cgroup_quota_cpus(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max") return 0;
  char* end = nullptr;
  const long long q = std::strtoll(quota.c_str(), &end, 10);
  return end && *end == '\0' ? quota_cpus(q, period) : 0;
}

int available_cpus() {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  // cgroup v2 (the unified hierarchy), else v1's cpu controller.
  int quota = cgroup_quota_cpus(read_line("/sys/fs/cgroup/cpu.max"));
  if (quota == 0) {
    const std::string q = read_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p = read_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (!q.empty() && !p.empty()) quota = quota_cpus(std::atoll(q.c_str()), std::atoll(p.c_str()));
  }
  return quota > 0 && quota < n ? quota : n;
}

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  if (n <= 0) n = available_cpus();
  omp_set_num_threads(n);
  openblas_set_num_threads(1);
}

void init_threads_from_env() {
  const char* s = std::getenv("MAPET_THREADS");
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if (s && *s) set_num_threads(std::atoi(s));
  else if (omp && *omp) openblas_set_num_threads(1);  // OpenMP read it at start-up
  else set_num_threads(available_cpus());
}

}  // namespace mapet
