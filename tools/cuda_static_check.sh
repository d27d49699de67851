#!/usr/bin/env bash
# Static GPU checks that need no GPU (#12 item 4), on the built CUDA kernels
# (build/kernels/libmapet_kernels_cuda.a; nvcc compiled them for MAPET_CUDA_ARCHS):
#   - per kernel and architecture: registers, stack, local and shared memory, as a table;
#   - the hot kernels (attention, GEMM, assignment, layernorm) use no stack and no
#     local memory (where ptxas puts spills);
#   - the tensor-core kernels' SASS contains HMMA.
# cuobjdump and nvdisasm come from the PyPI wheels nvidia-cuda-cuobjdump and
# nvidia-cuda-nvdisasm (13.2 reads CUDA 13.0 cubins); without them this skips, saying so.
# Usage: tools/cuda_static_check.sh path/to/libmapet_kernels_cuda.a
set -euo pipefail
lib="$1"
hot=${HOT_KERNELS:-'interval_attention|gemm|assign|layernorm'}  # .cu files whose kernels must not spill
tensor_core=${TENSOR_CORE_KERNELS:-'interval_attention|gemm|assign'}  # .cu files that use mma.sync

find_cuobjdump() {
  command -v cuobjdump && return
  python3 -c 'import glob, os, nvidia; print(next(iter(sorted(f for p in nvidia.__path__ for f in glob.glob(os.path.join(p, "*", "bin", "cuobjdump")))), ""))' 2>/dev/null || true
}
cuobjdump=$(find_cuobjdump)
if [ -z "$cuobjdump" ]; then
  echo "skipped: cuobjdump not installed (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)"
  exit 77
fi
export PATH="$(dirname "$cuobjdump"):$PATH"  # cuobjdump -sass runs nvdisasm, which the wheels put beside it

# member <lib>:<file>.cu.o -> arch = sm_XX -> Function <mangled>: -> REG:n STACK:n SHARED:n LOCAL:n
"$cuobjdump" -res-usage "$lib" | awk -v hot="$hot" '
  /^member / { file = $0; sub(/:$/, "", file); sub(/.*:/, "", file); sub(/\.cu\.o:?$/, "", file); sub(/.*\//, "", file); next }
  /^arch = / { arch = $3; next }
  /^ Function / { fn = $2; sub(/:$/, "", fn); next }
  /REG:[0-9]+/ && fn != "" {
    for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] }
    cmd = "c++filt " fn; cmd | getline name; close(cmd)
    gsub(/\(anonymous namespace\)::/, "", name); sub(/\(.*/, "", name); sub(/.*::/, "", name)
    if (!header++) printf "%-20s %-8s %-36s %5s %6s %6s %7s\n", "file", "arch", "kernel", "regs", "stack", "local", "smem"
    printf "%-20s %-8s %-36s %5s %6s %6s %7s\n", file, arch, name, v["REG"], v["STACK"], v["LOCAL"], v["SHARED"]
    if (file ~ "^(" hot ")$" && (v["STACK"] + 0 > 0 || v["LOCAL"] + 0 > 0)) {
      print "FAIL: " name " (" file ".cu, " arch ") uses stack or local memory: spills"; bad = 1
    }
    fn = ""
  }
  END { exit bad }' || status=1

for obj in $(ar t "$lib" | grep -E "^(${tensor_core})\.cu\.o$" || true); do
  tmp=$(mktemp -d)
  (cd "$tmp" && ar x "$(realpath "$lib")" "$obj")
  if "$cuobjdump" -sass "$tmp/$obj" | grep -q HMMA; then
    echo "ok: ${obj%.cu.o}.cu runs on tensor cores (HMMA in its SASS)"
  else
    echo "FAIL: ${obj%.cu.o}.cu has no HMMA instruction: its tensor-core path is not compiled"
    status=1
  fi
  rm -rf "$tmp"
done
exit ${status:-0}
