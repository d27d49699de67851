#!/usr/bin/env bash
# bench/cuda/run.sh [bench arguments]: builds what is missing and runs bench/cuda.
#   With a GPU: cuda_bench (the nvcc-built kernels) validates every kernel against
#   its CPU twin at the MaPeT-Small shape and times it with CUDA events (a few
#   minutes, the build aside).
#   Without one: cuda_bench_simt validates the same kernels under kernels/simt at a
#   small shape (under a minute) and says that no GPU timing was taken.
# Then the whole MaPeT training step (bench/cuda/train_step.cpp): on a GPU
#   MaPeT-Small at batch 64 and 256, f32 and bf16, images/s and MFU; without one
#   a tiny step under simt checked against the CPU's loss. TRAIN_STEP_ARGS go to it.
# BUILD (default: build) is the build folder; JOBS (default: all cores) the build
# jobs. The build folder is configured with -DMAPET_BENCH=ON if it is not already.
# Arguments go to the bench: --only adamw,gemm_tc  --iters 50  --list
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build}
jobs=${JOBS:-$(nproc)}

if [ ! -f "$build/build.ninja" ] || ! grep -q '^MAPET_BENCH:BOOL=ON' "$build/CMakeCache.txt"; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAPET_BENCH=ON > "$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
fi
targets=$(ninja -C "$build" -t targets all)
have() { grep -q "^$1:" <<< "$targets"; }

# The GPU build exists where nvcc does; it exits 77 when it finds no GPU.
if have cuda_bench; then
  ninja -C "$build" -j "$jobs" cuda_bench cuda_train_step
  status=0
  "$build/bench/cuda/cuda_bench" "$@" || status=$?
  if [ "$status" -ne 77 ]; then
    [ "$status" -ne 0 ] && exit "$status"
    # shellcheck disable=SC2086
    exec "$build/bench/cuda/cuda_train_step" ${TRAIN_STEP_ARGS:-}
  fi
fi
if ! have cuda_bench_simt; then
  echo "bench/cuda: neither cuda_bench (needs nvcc) nor cuda_bench_simt (needs Boost.Context and the CUDA headers) is configured"
  exit 1
fi
ninja -C "$build" -j "$jobs" cuda_bench_simt cuda_train_step_simt
"$build/bench/cuda/cuda_bench_simt" "$@"
# shellcheck disable=SC2086
exec "$build/bench/cuda/cuda_train_step_simt" ${TRAIN_STEP_ARGS:-}
