// The twin-test harness: every CUDA kernel (kernels/cuda/X.cu) against its CPU
// twin (kernels/cpu/X), in the manner of ggml's test-backend-ops. A case gives
// its inputs, runs the CPU call and the CUDA call, and compares outputs with a
// tolerance:
//
//   twin::Case c;
//   const float* x = c.input(x_host);          // device memory holding x_host
//   float* y = c.output<float>(n);             // device memory, poisoned with NaN
//   c.run([&] { cuda::gelu_forward(x, y, n); });
//   EXPECT_TRUE(twin::close(c.read(y), want, {1e-6, 1e-7}, "gelu_forward"));
//
// Under kernels/simt (every build; ctest label `cuda`) device memory is host
// memory, and run() launches the body in forward, reverse and random thread
// order, requiring the outputs bit for bit the same each time (a difference
// is a race: a missing barrier). On a GPU (MAPET_TWIN_GPU, label `gpu`) the
// buffers are cudaMalloc'ed and run() launches once and synchronises.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#if defined(MAPET_TWIN_GPU)
#include <cuda_runtime.h>
#else
#include "kernels/cuda/dialect.cuh"
#endif

namespace mapet::test::twin {

struct Tolerance {
  double rtol = 0, atol = 0;  // |got - want| <= atol + rtol |want|; both 0: bit for bit
};

// Every element within tolerance (NaN only where the reference has NaN);
// the message names the first bad element and the worst error.
template <class T>
::testing::AssertionResult close(const std::vector<T>& got, const std::vector<T>& want, Tolerance tol,
                                 const std::string& what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": " << got.size() << " values, the CPU twin has " << want.size();
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (std::isnan(w) && std::isnan(g)) continue;
    const double err = std::fabs(g - w);
    const bool ok = (tol.rtol == 0 && tol.atol == 0) ? std::memcmp(&got[i], &want[i], sizeof(T)) == 0
                                                      : err <= tol.atol + tol.rtol * std::fabs(w);
    if (!ok) {
      if (bad++ == 0) first = i;
      if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size()
                                       << " values off the CPU twin; first at " << first << " (" << got[first]
                                       << " vs " << want[first] << "), worst error " << worst << " (rtol "
                                       << tol.rtol << ", atol " << tol.atol << ")";
}

// Device buffers of one case; freed when the case ends.
class Case {
 public:
  Case() = default;
  Case(const Case&) = delete;
  Case& operator=(const Case&) = delete;
  ~Case() {
#if defined(MAPET_TWIN_GPU)
    for (Buffer& b : buffers_) cudaFree(b.device);
#endif
  }

  // Device memory holding a copy of `host` (kept: read-only inputs).
  template <class T>
  T* input(const std::vector<T>& host) {
    return static_cast<T*>(add(host.data(), host.size() * sizeof(T), /*output=*/false));
  }
  // Device memory for n values, filled with a poison pattern before every run
  // (NaN bytes for floats), so an element the kernel forgets to write shows.
  template <class T>
  T* output(size_t n) {
    return static_cast<T*>(add(nullptr, n * sizeof(T), /*output=*/true));
  }
  // An output that starts from given values (a kernel that accumulates, or updates in place).
  template <class T>
  T* inout(const std::vector<T>& host) {
    return static_cast<T*>(add(host.data(), host.size() * sizeof(T), /*output=*/true));
  }

  // Runs the CUDA call (see the top of this file); throws what the kernel throws.
  void run(const std::function<void()>& launch) {
#if defined(MAPET_TWIN_GPU)
    reset_outputs();
    launch();
    if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess)
      throw std::runtime_error(std::string("twin: kernel failed: ") + cudaGetErrorString(e));
#else
    auto body = [&] {
      reset_outputs();
      launch();
      std::vector<unsigned char> all;
      for (const Buffer& b : buffers_)
        if (b.output) all.insert(all.end(), b.host.begin(), b.host.end());
      return all;
    };
    mapet::simt::run_in_every_order(body);
#endif
  }

  // An output's values after run().
  template <class T>
  std::vector<T> read(const T* device) const {
    for (const Buffer& b : buffers_)
      if (b.device == device) {
        std::vector<T> out(b.bytes / sizeof(T));
#if defined(MAPET_TWIN_GPU)
        cudaMemcpy(out.data(), b.device, b.bytes, cudaMemcpyDeviceToHost);
#else
        std::memcpy(out.data(), b.host.data(), b.bytes);
#endif
        return out;
      }
    throw std::logic_error("twin: read() of a pointer this case did not make");
  }

 private:
  struct Buffer {
    void* device = nullptr;
    size_t bytes = 0;
    bool output = false;
    std::vector<unsigned char> initial;  // what an output starts from before each run (empty: poison)
    std::vector<unsigned char> host;     // under simt: the device memory itself
  };

  void* add(const void* src, size_t bytes, bool output) {
    Buffer b;
    b.bytes = bytes;
    b.output = output;
    if (src && output) b.initial.assign(static_cast<const unsigned char*>(src), static_cast<const unsigned char*>(src) + bytes);
#if defined(MAPET_TWIN_GPU)
    if (cudaMalloc(&b.device, bytes ? bytes : 1) != cudaSuccess) throw std::runtime_error("twin: cudaMalloc failed");
    if (src) cudaMemcpy(b.device, src, bytes, cudaMemcpyHostToDevice);
#else
    b.host.resize(bytes ? bytes : 1);
    if (src) std::memcpy(b.host.data(), src, bytes);
    b.device = b.host.data();
#endif
    buffers_.push_back(std::move(b));
    return buffers_.back().device;
  }

  void reset_outputs() {
    for (Buffer& b : buffers_) {
      if (!b.output) continue;
#if defined(MAPET_TWIN_GPU)
      if (b.initial.empty()) cudaMemset(b.device, 0xff, b.bytes);
      else cudaMemcpy(b.device, b.initial.data(), b.bytes, cudaMemcpyHostToDevice);
#else
      if (b.initial.empty()) std::memset(b.host.data(), 0xff, b.bytes);  // 0xffffffff is a NaN
      else std::memcpy(b.host.data(), b.initial.data(), b.bytes);
#endif
    }
  }

  // Pointers handed out stay valid as this grows: moving a Buffer keeps its heap blocks where they are.
  std::vector<Buffer> buffers_;
};

}  // namespace mapet::test::twin
