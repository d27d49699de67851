// The CUDA runtime API on the CPU: kernels/simt/cudart.cpp defines the
// functions of NVIDIA's cuda_runtime_api.h that the engine's device layer
// calls (cudaMalloc, cudaMemcpyAsync, streams, events, ...), with the same C
// symbols, so the same object code links against NVIDIA's cudart (a GPU) or
// against this (library mapet_simt_cudart: every kernel under kernels/simt).
//
// One simulated device, "device memory" is host memory. Streams run in order
// trivially: a kernel launch under simt has finished when it returns, and so
// has every copy here. What it checks that a GPU would also refuse: a device
// pointer of a copy or a free that no cudaMalloc returned (a host pointer
// passed where device memory is meant shows here, not only on a GPU), a
// destroyed stream or event, a copy that runs past the end of its allocation.
// This header adds the knobs the tests need.
#pragma once
#include <cstddef>

namespace mapet::simt::cudart {

// The simulated device's memory: cudaMalloc fails with
// cudaErrorMemoryAllocation beyond it and cudaMemGetInfo reports it. Default:
// MAPET_SIMT_DEVICE_MIB (MiB) or 16 GiB.
void set_device_memory(size_t bytes);
size_t device_memory();
size_t bytes_allocated();   // by cudaMalloc/cudaMallocAsync, not yet freed
size_t live_allocations();

}  // namespace mapet::simt::cudart
