// Data-parallel communication between the processes of one run (ranks):
// all-reduce (sum) of f32 / bf16 / f64 / i64 buffers, broadcast and barrier.
//
// Backends: SingleProcess (world size 1, no MPI at all: what a plain `mapet`
// gets), MPI (OpenMPI; `mpirun` or Slurm's `srun` started the ranks; see
// mpi_communicator.h) and NCCL (GPU buffers; its id shared over MPI; see
// nccl_communicator.h).
//
// Every collective has a deadline (MAPET_COLLECTIVE_TIMEOUT seconds, default
// 600): a rank that died or hangs cannot hang the others. Past it, or on any
// communication error, the rank prints which collective failed and why, and
// aborts the whole job (MPI_Abort): training state is only ever as good as the
// last checkpoint, which --resume continues from.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace mapet::dist {

enum class Elem { f32, bf16, f64, i64 };
size_t elem_size(Elem e);
const char* elem_name(Elem e);

class Communicator;

// A collective in flight. done() moves it along (MPI only progresses inside
// MPI calls) and says whether it has completed; wait() polls it to the deadline.
class Pending {
 public:
  Pending(Communicator& comm, std::string what) : comm_(comm), what_(std::move(what)) {}
  virtual ~Pending() = default;
  virtual bool done() = 0;
  void wait();
  const std::string& what() const { return what_; }

 protected:
  Communicator& comm_;
  std::string what_;  // "all-reduce of gradient bucket 2 (6.3 MB)": for the messages
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks on this machine, and this rank's place among them.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual const char* backend() const = 0;  // "single", "mpi", "nccl"

  // In place: data = the sum of every rank's data (count elements). `what`
  // names the collective in error messages.
  virtual std::unique_ptr<Pending> start_all_reduce(void* data, int64_t count, Elem e, const std::string& what) = 0;
  virtual std::unique_ptr<Pending> start_broadcast(void* data, int64_t bytes, int root, const std::string& what) = 0;
  virtual std::unique_ptr<Pending> start_barrier(const std::string& what) = 0;

  // The blocking forms: start, then wait to the deadline.
  void all_reduce(void* data, int64_t count, Elem e, const std::string& what);
  void broadcast(void* data, int64_t bytes, int root, const std::string& what);
  void barrier(const std::string& what);

  // Prints "mapet: error (rank r of n): <message>" and ends every rank of the
  // job (exits with `code` when there is no other rank). Never returns.
  [[noreturn]] virtual void abort(const std::string& message, int code = 1) = 0;

  // "rank 1 of 4": the start of every message about this rank.
  std::string who() const;
};

// Seconds a collective may wait before the job is aborted (MAPET_COLLECTIVE_TIMEOUT; default 600).
double collective_timeout();

// World size 1: every collective is complete at once (an all-reduce leaves the data as it is).
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  const char* backend() const override { return "single"; }
  std::unique_ptr<Pending> start_all_reduce(void*, int64_t count, Elem, const std::string& what) override;
  std::unique_ptr<Pending> start_broadcast(void*, int64_t bytes, int root, const std::string& what) override;
  std::unique_ptr<Pending> start_barrier(const std::string& what) override;
  [[noreturn]] void abort(const std::string& message, int code = 1) override;
};

// The process-wide communicator. init() decides it once, at program start:
// MPI when a launcher started this process (launched_by_mpi()), else
// SingleProcess (MPI is then never initialised). Before init(), world() is a
// SingleProcess. finalize() ends MPI cleanly (every rank must call it).
void init(int* argc, char*** argv);
Communicator& world();
void finalize();
// Ends the job after an error on this rank: every rank when there are several
// (an error on one rank must not leave the others waiting), else exit(code).
[[noreturn]] void fail(const std::string& message, int code = 1);

// True when mpirun / srun (or another PMI launcher) started this process: the
// variables they set (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK, PMI_SIZE, and
// Slurm's SLURM_STEP_NUM_TASKS with SLURM_PROCID inside an srun step).
bool launched_by_mpi();
// Whether this build has the MPI backend (MAPET_HAVE_MPI).
bool have_mpi();

// Compute threads for this rank when MAPET_THREADS / OMP_NUM_THREADS do not
// say: the cores of this machine shared among its ranks, and no more than the
// cores the launcher bound this rank to. `note` gets a line when the binding
// is what limits it (mpirun binds each of up to 2 ranks to one core).
int threads_per_rank(std::string* note = nullptr);

// The seed of this rank's drop-path / dropout stream, from the run's: rank 0
// keeps it (a 1-rank run is unchanged), the others get streams of their own.
uint64_t rank_seed(uint64_t seed, int rank);

}  // namespace mapet::dist
