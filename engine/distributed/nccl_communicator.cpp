#include "engine/distributed/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/tensor.h"

namespace mapet::dist {

namespace {

ncclDataType_t nccl_type(Elem e) {
  switch (e) {
    case Elem::f32: return ncclFloat32;
    case Elem::bf16: return ncclBfloat16;
    case Elem::f64: return ncclFloat64;
    case Elem::i64: return ncclInt64;
  }
  return ncclFloat32;
}

struct Pinned {
  void* data = nullptr;
  size_t bytes = 0;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(std::unique_ptr<Communicator> mpi) : mpi_(std::move(mpi)) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
      throw Error("MAPET_DIST_BACKEND=nccl: " + who() + " sees no CUDA device");
    device_ = mpi_->local_rank() % devices;
    cuda(cudaSetDevice(device_), "cudaSetDevice");
    cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    ncclUniqueId id{};
    if (mpi_->rank() == 0) nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_->broadcast(&id, sizeof id, 0, "the broadcast of the NCCL id");
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // setup and collectives return at once; settle() polls them to the deadline
    nccl(ncclCommInitRankConfig(&comm_, mpi_->size(), id, mpi_->rank(), &config), "ncclCommInitRankConfig");
    settle("the NCCL communicator setup");
    cuda(cudaMalloc(&barrier_, sizeof(float)), "cudaMalloc");
  }

  ~NcclCommunicator() override {
    if (!comm_) return;
    cudaStreamSynchronize(stream_);
    ncclCommFinalize(comm_);
    settle("the NCCL communicator finalize");
    ncclCommDestroy(comm_);
    cudaFree(barrier_);
    for (const Pinned& p : pinned_) cudaFreeHost(p.data);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  const char* backend() const override { return "nccl"; }

  std::unique_ptr<Pending> start_all_reduce(void* data, int64_t count, Elem e, const std::string& what) override {
    Staged st = stage_in(data, size_t(count) * elem_size(e), what);
    nccl(ncclAllReduce(st.dev, st.dev, size_t(count), nccl_type(e), ncclSum, comm_, stream_),
         "ncclAllReduce (" + what + ")");
    settle(what);
    return stage_out(st, what);
  }

  std::unique_ptr<Pending> start_broadcast(void* data, int64_t bytes, int root, const std::string& what) override {
    Staged st = stage_in(data, size_t(bytes), what);
    nccl(ncclBroadcast(st.dev, st.dev, size_t(bytes), ncclUint8, root, comm_, stream_), "ncclBroadcast (" + what + ")");
    settle(what);
    return stage_out(st, what);
  }

  // An all-reduce of one value: no rank passes it before every rank has reached it.
  std::unique_ptr<Pending> start_barrier(const std::string& what) override {
    return start_all_reduce(barrier_, 1, Elem::f32, what);
  }

  [[noreturn]] void abort(const std::string& message, int code = 1) override {
    if (comm_) ncclCommAbort(comm_);  // kernels waiting for a dead peer stop
    comm_ = nullptr;
    mpi_->abort(message, code);
    std::exit(code);
  }

  // The error (if any) of the work already queued; false while it runs.
  bool queued_work_done(const std::string& what, cudaEvent_t event) {
    ncclResult_t state = ncclSuccess;
    nccl(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError (" + what + ")");
    if (state != ncclSuccess && state != ncclInProgress) nccl(state, what);
    const cudaError_t q = cudaEventQuery(event);
    if (q == cudaErrorNotReady) return false;
    cuda(q, "cudaEventQuery (" + what + ")");
    return true;
  }

  void nccl(ncclResult_t r, const std::string& call) {
    if (r != ncclSuccess && r != ncclInProgress)
      abort(call + " failed: " + ncclGetErrorString(r) + " (" + ncclGetLastError(comm_) +
            "); a rank of the job has probably died (its messages say why)");
  }
  void cuda(cudaError_t r, const std::string& call) {
    if (r != cudaSuccess) abort(call + " failed: " + cudaGetErrorString(r));
  }

 private:
  // A non-blocking communicator's last call may still be in progress: NCCL wants it settled before the next.
  void settle(const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(collective_timeout());
    for (;;) {
      ncclResult_t state = ncclInProgress;
      if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) nccl(state, what);
      if (std::chrono::steady_clock::now() > deadline)
        abort(what + " did not start within the collective timeout (MAPET_COLLECTIVE_TIMEOUT)");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // Host memory goes host -> pinned buffer -> device and back: copies from pageable memory would make the
  // call wait for the stream (the collectives before it), with no deadline.
  struct Staged {
    void* user = nullptr;  // the caller's host buffer (null: the data is on the device)
    void* dev = nullptr;
    size_t bytes = 0;
    Pinned pinned;
  };
  Staged stage_in(void* data, size_t bytes, const std::string& what) {
    Staged st;
    st.dev = data, st.bytes = bytes;
    if (bytes == 0 || is_device(data)) return st;
    st.user = data;
    st.pinned = take_pinned(bytes);
    std::memcpy(st.pinned.data, data, bytes);
    cuda(cudaMallocAsync(&st.dev, bytes, stream_), "cudaMallocAsync (" + what + ")");
    cuda(cudaMemcpyAsync(st.dev, st.pinned.data, bytes, cudaMemcpyHostToDevice, stream_),
         "cudaMemcpyAsync (" + what + ")");
    return st;
  }
  std::unique_ptr<Pending> stage_out(const Staged& st, const std::string& what);

  Pinned take_pinned(size_t bytes) {
    for (size_t i = 0; i < pinned_.size(); ++i)
      if (pinned_[i].bytes >= bytes) {
        Pinned p = pinned_[i];
        pinned_.erase(pinned_.begin() + long(i));
        return p;
      }
    Pinned p;
    p.bytes = bytes;
    cuda(cudaMallocHost(&p.data, bytes), "cudaMallocHost");
    return p;
  }

 public:
  void give_back(const Pinned& p) {
    if (p.data) pinned_.push_back(p);
  }

 private:

  static bool is_device(const void* p) {
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
      cudaGetLastError();  // an unregistered host pointer is not an error worth keeping
      return false;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
  }

  std::unique_ptr<Communicator> mpi_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  void* barrier_ = nullptr;      // one float on the device
  std::vector<Pinned> pinned_;   // staging buffers not in use
};

// Done when the stream has passed its event; a staged result is then copied to the caller's buffer.
class NcclPending final : public Pending {
 public:
  NcclPending(NcclCommunicator& comm, cudaStream_t stream, void* user, Pinned pinned, size_t bytes, std::string what)
      : Pending(comm, std::move(what)), nccl_(comm), user_(user), pinned_(pinned), bytes_(bytes) {
    nccl_.cuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "cudaEventCreate");
    nccl_.cuda(cudaEventRecord(event_, stream), "cudaEventRecord (" + what_ + ")");
  }
  ~NcclPending() override {
    if (!finished_) wait();  // the caller's buffer is written by then
    cudaEventDestroy(event_);
  }
  bool done() override {
    if (finished_ || !nccl_.queued_work_done(what_, event_)) return finished_;
    if (user_) std::memcpy(user_, pinned_.data, bytes_);
    nccl_.give_back(pinned_);
    finished_ = true;
    return true;
  }

 private:
  NcclCommunicator& nccl_;
  void* user_;
  Pinned pinned_;
  size_t bytes_;
  cudaEvent_t event_ = nullptr;
  bool finished_ = false;
};

std::unique_ptr<Pending> NcclCommunicator::stage_out(const Staged& st, const std::string& what) {
  if (st.user) {
    cuda(cudaMemcpyAsync(st.pinned.data, st.dev, st.bytes, cudaMemcpyDeviceToHost, stream_),
         "cudaMemcpyAsync (" + what + ")");
    cuda(cudaFreeAsync(st.dev, stream_), "cudaFreeAsync (" + what + ")");
  }
  return std::make_unique<NcclPending>(*this, stream_, st.user, st.pinned, st.bytes, what);
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> mpi) {
  return std::make_unique<NcclCommunicator>(std::move(mpi));
}

}  // namespace mapet::dist
