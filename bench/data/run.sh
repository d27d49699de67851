#!/usr/bin/env bash
# Images/s per core of the data pipeline vs PIL + torchvision, same files, same run.
# Usage: bench/data/run.sh BUILD_DIR [seconds]   (needs python3-pil, python3-skimage,
# python3-torchvision from Debian for the peer; bench only, never the tests)
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [seconds]}
seconds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
imgs=$(mktemp -d)
trap 'rm -rf "$imgs"' EXIT
/usr/bin/python3 "$here/make_images.py" "$imgs"
bin="$build/bench/data/bench_data_transforms"
if [ ! -x "$bin" ]; then  # bench/CMakeLists.txt may not include bench/data yet
  bin="$imgs/bench_data_transforms"
  c++ -std=c++20 -O3 -march=native -DNDEBUG -I"$here/../.." "$here/bench_transforms.cpp" \
    "$build/data/libmapet_data.a" "$build/engine/libmapet_engine.a" -lturbojpeg -ljpeg -o "$bin"
fi
nproc_load=$(cut -d' ' -f1 /proc/loadavg)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $nproc_load"
for run in 1 2 3; do
  echo "--- run $run"
  "$bin" "$imgs" "$seconds"
  OMP_NUM_THREADS=1 /usr/bin/python3 "$here/bench_pil.py" "$imgs" "$seconds"
done
dump="$build/bench/data/bench_data_dump_views"
if [ -x "$dump" ]; then  # agreement with PIL + torchvision on the same files
  echo "--- outputs vs PIL + torchvision"
  mkdir -p "$imgs/dump"
  "$dump" "$imgs" "$imgs/dump"
  /usr/bin/python3 "$here/compare_pil.py" "$imgs" "$imgs/dump"
fi
