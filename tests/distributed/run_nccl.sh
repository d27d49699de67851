#!/usr/bin/env bash
# The communicator and data-parallel tests over NCCL (MAPET_DIST_BACKEND=nccl):
# one rank per GPU, at most 2 (NCCL takes one GPU per rank). Skips (77) where
# there is no GPU.
set -euo pipefail
mpiexec="$1" tests="$2"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${gpus:-0}" -eq 0 ]; then
  echo "no GPU on this machine: the NCCL backend is only compiled and linked here"
  exit 77
fi
np=$(( gpus < 2 ? gpus : 2 ))
export MAPET_DIST_BACKEND=nccl OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 MAPET_THREADS=1
exec "$mpiexec" --oversubscribe -np "$np" "$tests"
