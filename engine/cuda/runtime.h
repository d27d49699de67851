// The engine's CUDA runtime layer: device selection, streams, events, copies
// and the error check that names the op. One code path: it calls the CUDA
// runtime API (cudaMalloc, cudaMemcpyAsync, cudaStreamCreate, ...), which is
// NVIDIA's cudart in the GPU build and kernels/simt/cudart.cpp (host memory,
// kernels under the SIMT runtime) in the simulated one; the link decides
// (engine/CMakeLists.txt). Handles are void* so that engine headers need no
// CUDA header; the kernels take their stream as void* too.
#pragma once
#include <cstddef>
#include <string>

namespace mapet::device {

// Which CUDA backend this program was linked with (engine/CMakeLists.txt):
// "gpu" (nvcc kernels + NVIDIA's cudart), "sim" (kernels/simt on host memory)
// or "none" (no CUDA toolkit in the build: stubs that throw). Defined by each
// backend, never by mapet_engine_core.
const char* linked_backend();

// GPUs visible to this process; 0 without a GPU or driver (never throws).
int device_count();
// Makes `index` the current device; an Error naming `what` when there is none
// ("<what>: Device::cuda needs a GPU, but cudaGetDeviceCount says: ...").
void select(int index, const char* what = "cuda");
// "cuda:0 (X MiB free of Y MiB)".
std::string describe();

// Throws Error("<op>: <call> failed: <cudaGetErrorName>: <cudaGetErrorString>")
// when `status` (a cudaError_t) is not cudaSuccess.
void check(int status, const char* op, const char* call);

// The stream this thread's ops launch on (null: the default stream).
void* current_stream();

// Makes s the current stream of this thread for the guard's lifetime.
class StreamGuard {
 public:
  explicit StreamGuard(void* s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  void* prev_;
};

// A stream of its own (non-blocking with respect to the default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* get() const { return s_; }
  void synchronize() const;
  // Work queued on this stream after the call waits for what `other` holds now.
  void wait_for(void* other) const;

 private:
  void* s_ = nullptr;
};

class Event {
 public:
  Event();
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(void* stream);
  void synchronize() const;
  void* get() const { return e_; }
  float elapsed_ms_since(const Event& start) const;

 private:
  void* e_ = nullptr;
};

// Work queued on `stream` after the call waits until `e` (as last recorded)
// has happened; an event never recorded has happened.
void stream_wait(void* stream, const Event& e);

// Copies in stream order. to_host waits for the stream (the host reads next).
void copy_to_device(void* dst, const void* src, size_t bytes, void* stream, const char* op);
void copy_to_host(void* dst, const void* src, size_t bytes, void* stream, const char* op);
void copy_on_device(void* dst, const void* src, size_t bytes, void* stream, const char* op);
void zero(void* dst, size_t bytes, void* stream, const char* op);
void synchronize(const char* op);

// After a CUDA kernel call: a launch error (and, with MAPET_CUDA_SYNC=1, an
// error of the kernel itself, by waiting for it) becomes an Error naming op.
void check_kernel(const char* op);

// Page-locked host memory, for staging copies (cudaMallocHost).
void* pinned_alloc(size_t bytes);
void pinned_free(void* p);

}  // namespace mapet::device
