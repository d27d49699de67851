#include "engine/distributed/mpi_communicator.h"

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/tensor.h"
#include "kernels/common/bf16.h"

namespace mapet::dist {

namespace {

std::string mpi_error(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, size_t(len));
}

// a += b elementwise on bf16 (as uint16), summed in f32 and rounded to nearest even.
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const uint16_t* a = static_cast<const uint16_t*>(in);
  uint16_t* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i)
    b[i] = common::float_to_bf16(common::bf16_to_float(a[i]) + common::bf16_to_float(b[i]));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    MPI_Comm local;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    check(MPI_Type_contiguous(1, MPI_UINT16_T, &bf16_), "MPI_Type_contiguous");
    check(MPI_Type_commit(&bf16_), "MPI_Type_commit");
    check(MPI_Op_create(&bf16_sum, 1, &bf16_sum_op_), "MPI_Op_create");
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const char* backend() const override { return "mpi"; }
  MPI_Comm comm() const { return comm_; }

  std::unique_ptr<Pending> start_all_reduce(void* data, int64_t count, Elem e, const std::string& what) override;
  std::unique_ptr<Pending> start_broadcast(void* data, int64_t bytes, int root, const std::string& what) override;
  std::unique_ptr<Pending> start_barrier(const std::string& what) override;
  [[noreturn]] void abort(const std::string& message, int code = 1) override {
    std::fflush(stdout);
    std::fprintf(stderr, "mapet: error (%s): %s\nmapet: stopping every rank of the job (MPI_Abort)\n", who().c_str(),
                 message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; in case it does
  }

  void check(int rc, const std::string& call) {
    if (rc != MPI_SUCCESS)
      abort(call + " failed: " + mpi_error(rc) + " (a rank of the job has probably died; its messages say why)");
  }

 private:
  static int to_int(int64_t n, const std::string& what) {
    if (n < 0 || n > INT_MAX) throw Error(what + ": " + std::to_string(n) + " elements is more than one MPI call takes");
    return int(n);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Datatype bf16_ = MPI_DATATYPE_NULL;
  MPI_Op bf16_sum_op_ = MPI_OP_NULL;
};

class MpiPending final : public Pending {
 public:
  MpiPending(MpiCommunicator& comm, std::string what) : Pending(comm, std::move(what)), mpi_(comm) {}
  ~MpiPending() override {
    // MPI owns the buffer until the collective completes: never leave one behind.
    if (!finished_) wait();
  }
  bool done() override {
    if (finished_) return true;
    int flag = 0;
    mpi_.check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test (" + what_ + ")");
    finished_ = flag != 0;
    return finished_;
  }
  MPI_Request request = MPI_REQUEST_NULL;

 private:
  MpiCommunicator& mpi_;
  bool finished_ = false;
};

std::unique_ptr<Pending> MpiCommunicator::start_all_reduce(void* data, int64_t count, Elem e, const std::string& what) {
  auto p = std::make_unique<MpiPending>(*this, what);
  MPI_Datatype type = MPI_FLOAT;
  MPI_Op op = MPI_SUM;
  switch (e) {
    case Elem::f32: type = MPI_FLOAT; break;
    case Elem::f64: type = MPI_DOUBLE; break;
    case Elem::i64: type = MPI_INT64_T; break;
    case Elem::bf16: type = bf16_, op = bf16_sum_op_; break;
  }
  check(MPI_Iallreduce(MPI_IN_PLACE, data, to_int(count, what), type, op, comm_, &p->request),
        "MPI_Iallreduce (" + what + ")");
  return p;
}

std::unique_ptr<Pending> MpiCommunicator::start_broadcast(void* data, int64_t bytes, int root, const std::string& what) {
  auto p = std::make_unique<MpiPending>(*this, what);
  check(MPI_Ibcast(data, to_int(bytes, what), MPI_BYTE, root, comm_, &p->request), "MPI_Ibcast (" + what + ")");
  return p;
}

std::unique_ptr<Pending> MpiCommunicator::start_barrier(const std::string& what) {
  auto p = std::make_unique<MpiPending>(*this, what);
  check(MPI_Ibarrier(comm_, &p->request), "MPI_Ibarrier (" + what + ")");
  return p;
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv) {
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw Error("MPI_Init_thread failed: is this process started by mpirun / srun of the same MPI library?");
  return std::make_unique<MpiCommunicator>();
}

void finalize_mpi() {
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
}

MPI_Comm mpi_comm(const Communicator& c) {
  const auto* m = dynamic_cast<const MpiCommunicator*>(&c);
  return m ? m->comm() : MPI_COMM_NULL;
}

}  // namespace mapet::dist
