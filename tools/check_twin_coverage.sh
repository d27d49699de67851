#!/usr/bin/env bash
# Every CUDA entry point has a twin case (#12): each function declared in a
# kernels/cuda/<op>.cuh (a declaration starts at column 0 inside the header's
# namespace) must be called as cuda::<name>( by some tests/kernels/*_test.cpp.
# Names, not overloads: one case for a name covers its overloads. Not op
# headers: dialect.cuh and support.cuh (the dialect and the kernels' shared
# device code), *_tiles.cuh (a kernel's internals), device.cuh (the GPU
# itself, GPU build only: cudaMalloc and copies, no twin on the CPU).
# Usage: tools/check_twin_coverage.sh <source dir>; prints what lacks a case, exits 1 then.
set -euo pipefail
src="${1:-.}"
missing=0 checked=0
for header in "$src"/kernels/cuda/*.cuh; do
  case "$(basename "$header")" in dialect.cuh | support.cuh | device.cuh | *_tiles.cuh) continue ;; esac
  # "void name(", "int64_t name(", "inline void name(", "AssignCentroids name(" ... at column 0.
  names=$(grep -E '^(inline )?[A-Za-z_][A-Za-z0-9_:<>]*[ *&]+[a-z_][a-z0-9_]*\(' "$header" |
          sed -E 's/\(.*//; s/.*[ *&]//' | sort -u)
  for name in $names; do
    checked=$((checked + 1))
    if ! grep -qE "cuda::${name}\(" "$src"/tests/kernels/*_test.cpp; then
      echo "MISSING: cuda::${name} ($(basename "$header")) has no twin case in tests/kernels/"
      missing=$((missing + 1))
    fi
  done
done
if [ "$checked" -lt 40 ]; then  # the parse found too few: the pattern, not the tests, is broken
  echo "FAIL: found only $checked entry points in $src/kernels/cuda/*.cuh"
  exit 1
fi
echo "$checked CUDA entry points, $missing without a twin case"
[ "$missing" -eq 0 ]
