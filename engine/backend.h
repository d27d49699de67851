// The one place an op picks its backend. An op finds the device of its
// tensors once,
//   const Device dev = backend::device_of("layer_norm", {xv, gv, bv});
// and calls each kernel through
//   MAPET_BACKEND_CALL(dev, layernorm_forward, x, gamma, beta, y, mean, rstd, rows, dim, eps);
// which is cpu::layernorm_forward(...) (kernels/cpu/layernorm.h) on the CPU and
// cuda::layernorm_forward(...) (kernels/cuda/layernorm.cuh, the same arguments;
// its trailing stream argument defaults to the default stream) on a GPU.
// On cuda, an error of the call (a launch the kernel refused, or with
// MAPET_CUDA_SYNC=1 a fault of the kernel itself) becomes an Error that names
// the entry point: "layernorm_forward: <what CUDA said>".
// A CUDA entry point that has no kernel in this build is a stub that throws
// "<entry point> has no CUDA kernel in this build" (engine/cuda/no_cuda.cpp, linked when the build has no CUDA toolkit):
// there is no silent fallback to the CPU.
#pragma once
#include <exception>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "engine/cuda/runtime.h"
#include "engine/tensor.h"

namespace mapet::backend {

// The device of the defined tensors among ts (the CPU when none is defined);
// an Error naming op when they are not all on one device.
Device device_of(const char* op, std::initializer_list<std::reference_wrapper<const Tensor>> ts);

// Throws Error("<name> has no CUDA kernel in this build"). Inline: the none
// backend (engine/cuda/no_cuda.cpp), linked after the engine, throws it too
// and must not call back into the engine's library (a static-link cycle).
[[noreturn]] inline void no_cuda_kernel(const char* name) {
  throw Error(std::string(name) + " has no CUDA kernel in this build");
}

// For the ops whose work is still a loop in engine/ops rather than a kernel:
// a tensor on any device but the CPU gets the same error as a missing kernel.
inline void host_loop_only(const char* op, Device dev) {
  if (dev != Device::cpu) no_cuda_kernel(op);
}

// Runs a CUDA entry point for MAPET_BACKEND_CALL: errors name it.
template <class F>
decltype(auto) cuda_call(const char* name, F&& call) {
  try {
    if constexpr (std::is_void_v<decltype(call())>) {
      call();
      device::check_kernel(name);
    } else {
      decltype(auto) r = call();
      device::check_kernel(name);
      return r;
    }
  } catch (const Error&) {
    throw;  // already says what failed (a stub without a kernel, a device-layer error)
  } catch (const std::exception& e) {
    throw Error(std::string(name) + ": " + e.what());
  }
}

}  // namespace mapet::backend

// Both branches name the kernel, so an op compiles only when its CUDA twin is
// declared (kernels/cuda/<op>.cuh); a macro because an overloaded function
// name cannot be passed to a template.
#define MAPET_BACKEND_CALL(device, fn, ...)                                                            \
  ((device) == ::mapet::Device::cpu                                                                    \
       ? ::mapet::cpu::fn(__VA_ARGS__)                                                                 \
       : ::mapet::backend::cuda_call(#fn, [&]() -> decltype(auto) { return ::mapet::cuda::fn(__VA_ARGS__); }))
