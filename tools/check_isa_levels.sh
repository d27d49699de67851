#!/usr/bin/env bash
# One binary for every x86-64 CPU (kernels/cpu/isa.h) holds only if AVX code
# stays inside the multi-level kernels: a function compiled for AVX2 or AVX-512
# outside the isa_<level> namespaces (say, an inline std:: function that the
# linker took from an AVX-512 object) would crash older CPUs with SIGILL.
# This reads the disassembly of a binary and lists every function that uses
# ymm/zmm/opmask registers without belonging to the level that allows them.
set -euo pipefail
bin="$1"
[ "$(uname -m)" = x86_64 ] || { echo "skipped: not an x86-64 build"; exit 77; }
objdump -d --no-show-raw-insn -C "$bin" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
  fn == "" { next }
  /%zmm|%k[1-7]/ { if (fn !~ /isa_avx512/) bad[fn] = "AVX-512"; next }
  /%ymm/ { if (fn !~ /isa_avx2|isa_avx512/) bad[fn] = "AVX"; next }
  END {
    n = 0
    for (f in bad) { print bad[f] " outside its level: " f; n++ }
    if (n) { print n " function(s) would not run on every x86-64 CPU"; exit 1 }
    print "ok: AVX and AVX-512 code only inside the isa_<level> kernels"
  }'
