// The CUDA runtime functions the engine calls, served on the CPU (see
// cudart.h). Signatures are NVIDIA's (cuda_runtime_api.h), so these are the
// symbols cudart would provide; link this library instead of cudart.
#include "kernels/simt/cudart.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>

namespace mapet::simt::cudart {
namespace {

struct State {
  std::mutex mu;
  std::map<const char*, size_t> blocks;  // device allocations: start -> bytes
  std::set<const void*> streams, events, host_blocks;
  std::map<const void*, double> event_ms;  // the time each event was last recorded
  size_t allocated = 0;
  size_t memory = 0;
  State() {
    const char* mib = std::getenv("MAPET_SIMT_DEVICE_MIB");
    memory = (mib && std::atoll(mib) > 0 ? size_t(std::atoll(mib)) : size_t(16) << 10) << 20;
  }
};

State& state() {
  static State* s = new State();  // never destroyed: tensors may be freed after static destructors
  return *s;
}

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

// True when [p, p + bytes) lies inside one device allocation (state().mu held).
bool in_device_block(const void* p, size_t bytes) {
  auto& b = state().blocks;
  auto it = b.upper_bound(static_cast<const char*>(p));
  if (it == b.begin()) return false;
  --it;
  const char* c = static_cast<const char*>(p);
  return c >= it->first && c + bytes <= it->first + it->second;
}

bool known_stream(cudaStream_t s) { return s == nullptr || state().streams.count(s) != 0; }

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

cudaError_t copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return fail(cudaErrorInvalidValue);
  {
    std::lock_guard<std::mutex> lock(state().mu);
    if (!known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind != cudaMemcpyHostToHost && kind != cudaMemcpyDefault) {
      if (dst_dev && !in_device_block(dst, n)) return fail(cudaErrorInvalidValue);
      if (src_dev && !in_device_block(src, n)) return fail(cudaErrorInvalidValue);
      if (!dst_dev && in_device_block(dst, 1)) return fail(cudaErrorInvalidValue);
      if (!src_dev && in_device_block(src, 1)) return fail(cudaErrorInvalidValue);
    }
  }
  std::memmove(dst, src, n);
  return cudaSuccess;
}

cudaError_t device_alloc(void** p, size_t bytes) {
  if (!p) return fail(cudaErrorInvalidValue);
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const size_t size = bytes ? bytes : 1;
  if (size > s.memory - s.allocated) return fail(cudaErrorMemoryAllocation);
  void* q = std::aligned_alloc(256, (size + 255) / 256 * 256);  // cudaMalloc aligns to at least 256 bytes
  if (!q) return fail(cudaErrorMemoryAllocation);
  std::memset(q, 0xff, size);  // fresh device memory is garbage: NaN bytes make a read-before-write show
  s.blocks[static_cast<const char*>(q)] = size;
  s.allocated += size;
  *p = q;
  return cudaSuccess;
}

cudaError_t device_free(void* p) {
  if (!p) return cudaSuccess;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.blocks.find(static_cast<const char*>(p));
  if (it == s.blocks.end()) return fail(cudaErrorInvalidValue);
  s.allocated -= it->second;
  s.blocks.erase(it);
  std::free(p);
  return cudaSuccess;
}

}  // namespace

void set_device_memory(size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().memory = bytes;
}
size_t device_memory() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().memory;
}
size_t bytes_allocated() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().allocated;
}
size_t live_allocations() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().blocks.size();
}

}  // namespace mapet::simt::cudart

using namespace mapet::simt::cudart;

extern "C" {

// ---- device and errors ------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* n) {
  if (!n) return fail(cudaErrorInvalidValue);
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int* device) {
  if (!device) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }  // every launch and copy finished when it returned
cudaError_t cudaGetLastError() {
  const cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return last_error; }
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    default: return "cudaError";
  }
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    default: return "unknown error (simt)";
  }
}
cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  if (!free || !total) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(state().mu);
  *total = state().memory;
  *free = state().memory - state().allocated;
  return cudaSuccess;
}

// ---- memory -------------------------------------------------------------------
cudaError_t cudaMalloc(void** p, size_t bytes) { return device_alloc(p, bytes); }
cudaError_t cudaFree(void* p) { return device_free(p); }
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) { return device_alloc(p, bytes); }
cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return device_free(p); }
// Pinned host memory is host memory; tracked so cudaFreeHost can refuse a stranger.
cudaError_t cudaMallocHost(void** p, size_t bytes) {
  if (!p) return fail(cudaErrorInvalidValue);
  *p = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
  if (!*p) return fail(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(state().mu);
  state().host_blocks.insert(*p);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lock(state().mu);
  if (!state().host_blocks.erase(p)) return fail(cudaErrorInvalidValue);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  return copy(dst, src, n, kind, nullptr);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t stream) {
  return copy(dst, src, n, kind, stream);
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    if (!known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
    if (!in_device_block(p, n)) return fail(cudaErrorInvalidValue);
  }
  std::memset(p, value, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t n) { return cudaMemsetAsync(p, value, n, nullptr); }

// ---- streams and events ---------------------------------------------------------
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  if (!s) return fail(cudaErrorInvalidValue);
  *s = reinterpret_cast<cudaStream_t>(new char);  // a unique handle; the work itself needs no queue
  std::lock_guard<std::mutex> lock(state().mu);
  state().streams.insert(*s);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (s == nullptr || !state().streams.erase(s)) return fail(cudaErrorInvalidResourceHandle);
  delete reinterpret_cast<char*>(s);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(state().mu);
  return known_stream(s) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaStreamSynchronize(s); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  if (!e) return fail(cudaErrorInvalidValue);
  *e = reinterpret_cast<cudaEvent_t>(new char);
  std::lock_guard<std::mutex> lock(state().mu);
  state().events.insert(*e);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (!state().events.erase(e)) return fail(cudaErrorInvalidResourceHandle);
  state().event_ms.erase(e);
  delete reinterpret_cast<char*>(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (!state().events.count(e) || !known_stream(s)) return fail(cudaErrorInvalidResourceHandle);
  state().event_ms[e] = now_ms();  // the work before it on s is done already
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().events.count(e) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return cudaEventQuery(e); }
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int) {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().events.count(e) && known_stream(s) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  std::lock_guard<std::mutex> lock(state().mu);
  auto& t = state().event_ms;
  if (!ms || !t.count(start) || !t.count(end)) return fail(cudaErrorInvalidResourceHandle);
  *ms = static_cast<float>(t[end] - t[start]);
  return cudaSuccess;
}

}  // extern "C"
