// The one CPU thread pool: OpenMP's, which oneDNN (Debian's build) also runs on.
#pragma once
#include <string>

namespace mapet {

int num_threads();
// n <= 0: available_cpus(). Also keeps OpenBLAS from starting threads of its own.
void set_num_threads(int n);
// Reads MAPET_THREADS (or OMP_NUM_THREADS) once; call at program start. Neither
// set: available_cpus() threads.
void init_threads_from_env();

// The CPUs this process may use: its affinity mask (taskset, Slurm, docker
// --cpuset-cpus), capped by its cgroup's CPU quota rounded up (docker --cpus,
// Kubernetes CPU limits: cgroup v2 cpu.max, v1 cpu.cfs_quota_us / period).
// A team larger than that only queues on the quota: barriers then wait for
// threads that are not running.
int available_cpus();
// The quota of a cgroup v2 cpu.max line ("150000 100000" -> 2 CPUs, rounded
// up); 0 for "max ..." (no quota) or a line it cannot read.
int cgroup_quota_cpus(const std::string& cpu_max);

}  // namespace mapet
