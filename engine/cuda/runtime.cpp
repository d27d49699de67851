#include "engine/cuda/runtime.h"

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>

#include "engine/tensor.h"

namespace mapet::device {

namespace {
thread_local void* g_stream = nullptr;

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

bool sync_after_kernels() {
  static const bool on = [] {
    const char* v = std::getenv("MAPET_CUDA_SYNC");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}
}  // namespace

void check(int status, const char* op, const char* call) {
  const auto e = static_cast<cudaError_t>(status);
  if (e == cudaSuccess) return;
  cudaGetLastError();  // a failed call leaves it as the last error: clear it, it is reported here
  throw Error(std::string(op) + ": " + call + " failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void select(int index, const char* what) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw Error(std::string(what) + ": Device::cuda needs a GPU, but cudaGetDeviceCount says: " +
                (e != cudaSuccess ? std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) : "no devices"));
  }
  if (index < 0 || index >= n)
    throw Error(std::string(what) + ": cuda:" + std::to_string(index) + " does not exist (" + std::to_string(n) +
                " visible)");
  check(cudaSetDevice(index), what, "cudaSetDevice");
}

std::string describe() {
  int dev = 0;
  size_t free = 0, total = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaMemGetInfo(&free, &total) != cudaSuccess) {
    cudaGetLastError();
    return "cuda (unavailable)";
  }
  return "cuda:" + std::to_string(dev) + " (" + std::to_string(free >> 20) + " MiB free of " +
         std::to_string(total >> 20) + " MiB)";
}

void* current_stream() { return g_stream; }

StreamGuard::StreamGuard(void* s) : prev_(g_stream) { g_stream = s; }
StreamGuard::~StreamGuard() { g_stream = prev_; }

Stream::Stream() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "Stream", "cudaStreamCreateWithFlags");
  s_ = s;
}
Stream::~Stream() { cudaStreamDestroy(as_stream(s_)); }
void Stream::synchronize() const { check(cudaStreamSynchronize(as_stream(s_)), "Stream", "cudaStreamSynchronize"); }
void Stream::wait_for(void* other) const {
  Event e;
  e.record(other);
  check(cudaStreamWaitEvent(as_stream(s_), static_cast<cudaEvent_t>(e.get()), 0), "Stream", "cudaStreamWaitEvent");
}

Event::Event() {
  cudaEvent_t e = nullptr;
  check(cudaEventCreate(&e), "Event", "cudaEventCreate");
  e_ = e;
}
Event::~Event() { cudaEventDestroy(static_cast<cudaEvent_t>(e_)); }
void Event::record(void* stream) {
  check(cudaEventRecord(static_cast<cudaEvent_t>(e_), as_stream(stream)), "Event", "cudaEventRecord");
}
void Event::synchronize() const { check(cudaEventSynchronize(static_cast<cudaEvent_t>(e_)), "Event", "cudaEventSynchronize"); }
float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.e_), static_cast<cudaEvent_t>(e_)), "Event",
        "cudaEventElapsedTime");
  return ms;
}

void stream_wait(void* stream, const Event& e) {
  check(cudaStreamWaitEvent(as_stream(stream), static_cast<cudaEvent_t>(e.get()), 0), "stream_wait",
        "cudaStreamWaitEvent");
}

void copy_to_device(void* dst, const void* src, size_t bytes, void* stream, const char* op) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)), op, "cudaMemcpyAsync to the device");
}
void copy_to_host(void* dst, const void* src, size_t bytes, void* stream, const char* op) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)), op, "cudaMemcpyAsync to the host");
  check(cudaStreamSynchronize(as_stream(stream)), op, "cudaStreamSynchronize");
}
void copy_on_device(void* dst, const void* src, size_t bytes, void* stream, const char* op) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, as_stream(stream)), op, "cudaMemcpyAsync on the device");
}
void zero(void* dst, size_t bytes, void* stream, const char* op) {
  check(cudaMemsetAsync(dst, 0, bytes, as_stream(stream)), op, "cudaMemsetAsync");
}
void synchronize(const char* op) { check(cudaDeviceSynchronize(), op, "cudaDeviceSynchronize"); }

void check_kernel(const char* op) {
  check(cudaGetLastError(), op, "a kernel launch");
  if (sync_after_kernels()) check(cudaDeviceSynchronize(), op, "a kernel (MAPET_CUDA_SYNC=1)");
}

void* pinned_alloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMallocHost(&p, bytes ? bytes : 1), "pinned_alloc", "cudaMallocHost");
  return p;
}
void pinned_free(void* p) {
  if (p) check(cudaFreeHost(p), "pinned_free", "cudaFreeHost");
}

}  // namespace mapet::device
