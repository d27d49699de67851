#include "engine/distributed/communicator.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "engine/distributed/mpi_communicator.h"
#include "engine/tensor.h"

namespace mapet::dist {

size_t elem_size(Elem e) {
  switch (e) {
    case Elem::f32: return 4;
    case Elem::bf16: return 2;
    case Elem::f64: return 8;
    case Elem::i64: return 8;
  }
  return 0;
}

const char* elem_name(Elem e) {
  switch (e) {
    case Elem::f32: return "f32";
    case Elem::bf16: return "bf16";
    case Elem::f64: return "f64";
    case Elem::i64: return "i64";
  }
  return "?";
}

double collective_timeout() {
  static const double t = [] {
    const char* s = std::getenv("MAPET_COLLECTIVE_TIMEOUT");
    if (!s || !*s) return 600.0;
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || *end || !(v > 0))
      throw Error("MAPET_COLLECTIVE_TIMEOUT='" + std::string(s) + "': expected a number of seconds > 0");
    return v;
  }();
  return t;
}

void Pending::wait() {
  using clock = std::chrono::steady_clock;
  if (done()) return;
  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(
                                    std::chrono::duration<double>(collective_timeout()));
  // Poll: spin briefly (a collective that is about to finish), then yield, then
  // sleep in short naps so a rank that waits leaves the core to its peers.
  for (int64_t polls = 1; !done(); ++polls) {
    const auto now = clock::now();
    if (now > deadline) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", collective_timeout());
      comm_.abort(what_ + " did not complete within " + secs +
                  " s: another rank has stopped, hung or fallen far behind (its own messages say why). "
                  "Set MAPET_COLLECTIVE_TIMEOUT (seconds) to wait longer.");
    }
    if (polls < 64) continue;
    if (now - start < std::chrono::microseconds(200)) sched_yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(now - start < std::chrono::milliseconds(20) ? 20 : 200));
  }
}

namespace {

// MPI counts are ints: the blocking forms cut large buffers into pieces.
constexpr int64_t kPiece = int64_t(1) << 28;

}  // namespace

void Communicator::all_reduce(void* data, int64_t count, Elem e, const std::string& what) {
  char* p = static_cast<char*>(data);
  int64_t at = 0;
  do {  // once even for count 0: every rank takes part in the same collectives
    const int64_t n = std::min(kPiece, count - at);
    start_all_reduce(p + at * int64_t(elem_size(e)), n, e, what)->wait();
    at += n;
  } while (at < count);
}

void Communicator::broadcast(void* data, int64_t bytes, int root, const std::string& what) {
  char* p = static_cast<char*>(data);
  int64_t at = 0;
  do {
    const int64_t n = std::min(kPiece, bytes - at);
    start_broadcast(p + at, n, root, what)->wait();
    at += n;
  } while (at < bytes);
}

void Communicator::barrier(const std::string& what) { start_barrier(what)->wait(); }

std::string Communicator::who() const {
  return "rank " + std::to_string(rank()) + " of " + std::to_string(size());
}

namespace {

struct Complete final : Pending {
  using Pending::Pending;
  bool done() override { return true; }
};

}  // namespace

std::unique_ptr<Pending> SingleProcess::start_all_reduce(void*, int64_t count, Elem, const std::string& what) {
  if (count < 0) throw Error(what + ": negative count");
  return std::make_unique<Complete>(*this, what);
}

std::unique_ptr<Pending> SingleProcess::start_broadcast(void*, int64_t bytes, int root, const std::string& what) {
  if (bytes < 0 || root != 0) throw Error(what + ": broadcast of " + std::to_string(bytes) + " bytes from rank " +
                                          std::to_string(root) + " in a world of 1");
  return std::make_unique<Complete>(*this, what);
}

std::unique_ptr<Pending> SingleProcess::start_barrier(const std::string& what) {
  return std::make_unique<Complete>(*this, what);
}

void SingleProcess::abort(const std::string& message, int code) {
  std::fflush(stdout);
  std::fprintf(stderr, "mapet: error: %s\n", message.c_str());
  std::exit(code);
}

namespace {

std::unique_ptr<Communicator>& world_ptr() {
  static std::unique_ptr<Communicator> w = std::make_unique<SingleProcess>();
  return w;
}

bool env_set(const char* name) {
  const char* s = std::getenv(name);
  return s && *s;
}

int env_int(const char* name, int fallback) {
  const char* s = std::getenv(name);
  return s && *s ? std::atoi(s) : fallback;
}

}  // namespace

bool launched_by_mpi() {
  if (env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") || env_set("PMI_SIZE"))
    return true;
  // srun without --mpi: a step of several tasks (a batch script itself is not one).
  return env_set("SLURM_PROCID") && env_int("SLURM_STEP_NUM_TASKS", 1) > 1;
}

bool have_mpi() {
#ifdef MAPET_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void init(int* argc, char*** argv) {
  if (!launched_by_mpi()) return;  // one process: no MPI at all
#ifdef MAPET_HAVE_MPI
  world_ptr() = make_mpi_communicator(argc, argv);
#else
  const int n = std::max({env_int("OMPI_COMM_WORLD_SIZE", 1), env_int("PMI_SIZE", 1),
                          env_int("SLURM_STEP_NUM_TASKS", 1)});
  if (n > 1)
    throw Error("started as one of " + std::to_string(n) +
                " ranks, but this mapet was built without MPI: install libopenmpi-dev (tools/install-deps.sh) and "
                "rebuild, or run it without mpirun/srun");
#endif
}

Communicator& world() { return *world_ptr(); }

void finalize() {
  Communicator& w = world();
  if (w.size() > 1) w.barrier("the barrier at the end of the run");
#ifdef MAPET_HAVE_MPI
  if (std::string(w.backend()) != "single") finalize_mpi();
#endif
  world_ptr() = std::make_unique<SingleProcess>();
}

void fail(const std::string& message, int code) {
  world().abort(message, code);
  std::exit(code);  // abort() does not return; GCC cannot see that through a virtual call
}

int threads_per_rank(std::string* note) {
  const int cores = std::max(1, int(std::thread::hardware_concurrency()));
  const int local = std::max(1, world().local_size());
  const int share = std::max(1, cores / local);
  cpu_set_t set;
  CPU_ZERO(&set);
  const int bound = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
  if (bound < share && note)
    *note = "the launcher bound " + world().who() + " to " + std::to_string(bound) + " of " + std::to_string(cores) +
            " cores, so it computes on " + std::to_string(bound) + " thread(s); with mpirun, --bind-to none or " +
            "--map-by socket:PE=" + std::to_string(share) + " gives each rank " + std::to_string(share);
  return std::max(1, std::min(bound, share));
}

uint64_t rank_seed(uint64_t seed, int rank) { return seed + uint64_t(rank) * 0x9E3779B97F4A7C15ull; }

}  // namespace mapet::dist
