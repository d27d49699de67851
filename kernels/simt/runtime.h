// mapet::simt — runs the project's CUDA kernels on the CPU.
//
// Kernels do not include this file: they include kernels/cuda/dialect.cuh,
// which includes it when the compiler is not nvcc. Host code (tests, the
// cuda-sim backend) uses mapet::simt::{set_thread_order, ScopedThreadOrder,
// run_in_every_order, set_worker_count, KernelError}.
//
// The pieces, one job each:
//   config.h       thread order, worker count, stack size (+ environment)
//   fiber.h        fiber stacks and the context switch (Boost.Context fcontext)
//   block.h        the block scheduler: rounds, barriers, warp meeting points, errors
//   launch.h       launch checks and the block pool
//   sync.h         __syncthreads*, __shfl*_sync, __ballot/__any/__all_sync, __syncwarp, __reduce_*_sync
//   tensor_core.h  mma.sync.m16n8k16 (bf16 -> f32) and ldmatrix (x1/x2/x4, .trans)
//   cp_async.h     cp.async with commit/wait groups
//   atomics.h      atomic* and __threadfence*
//   intrinsics.h   __ldg, bit tricks, conversions, fast math, min/max
//   orders.h       run_in_every_order: the race check for tests
// See kernels/simt/README.md.
#pragma once

#include "kernels/simt/atomics.h"
#include "kernels/simt/block.h"
#include "kernels/simt/config.h"
#include "kernels/simt/cp_async.h"
#include "kernels/simt/intrinsics.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/orders.h"
#include "kernels/simt/sync.h"
#include "kernels/simt/tensor_core.h"

namespace mapet::simt::detail {
inline const uint3& thread_idx() { return current_thread("threadIdx").idx; }
}  // namespace mapet::simt::detail
