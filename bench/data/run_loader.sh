#!/usr/bin/env bash
# Loader throughput (1 and 2 decode threads) vs a torch DataLoader (num_workers
# 1 and 2), same train transform, same files, same run. The tree is the eight
# 500x375 bench JPEGs copied 64 times into two class folders (512 images).
# Usage: bench/data/run_loader.sh BUILD_DIR [epochs]
set -euo pipefail
build=${1:?usage: run_loader.sh BUILD_DIR [epochs]}
epochs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$here/make_images.py" "$tmp/jpegs" > /dev/null
for k in $(seq 0 63); do
  cls="$tmp/tree/class$((k % 2))"
  mkdir -p "$cls"
  for f in "$tmp"/jpegs/*.jpg; do cp "$f" "$cls/$k-$(basename "$f")"; done
done
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in 1 2; do
  echo "--- run $run"
  "$build/bench/data/bench_data_loader" "$tmp/tree" "$epochs"
  OMP_NUM_THREADS=1 /usr/bin/python3 "$here/bench_loader.py" "$tmp/tree" "$epochs"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
