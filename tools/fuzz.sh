#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each (make fuzz FUZZ_SECONDS=N), in
# turn, at low priority (nice 19; FUZZ_NICE=N to change). Corpora grow in DIR/corpus/<target>
# (seeded from DIR/seeds/<target>); crashes land in DIR/crashes/<target>/ (turn each into a
# regression test). Prints one line per target: executions, corpus size, crashes. Exit status 1
# when any target crashed.
# Usage: tools/fuzz.sh BUILD/tests/fuzz SECONDS [TARGET...]
set -uo pipefail
dir=$1 seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(jpeg safetensors torch yaml csv token_store checkpoint npy)
status=0
printf '%-12s %12s %8s %8s\n' target executions corpus crashes
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t"
  log="$dir/fuzz_$t.log"
  # Leaks: LeakSanitizer stays on. Memory: 2 GiB per process, 512 MiB per allocation (a header-sized
  # allocation before any check shows as a finding).
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  MAPET_THREADS=1 nice -n "${FUZZ_NICE:-19}" "$dir/fuzz_$t" "$dir/corpus/$t" "$dir/seeds/$t" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/$t/" > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "$dir/crashes/$t" -type f | wc -l)
  printf '%-12s %12s %8s %8s\n' "$t" "${execs:-?}" "$(ls "$dir/corpus/$t" | wc -l)" "$crashes"
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    grep -m1 -E 'ERROR: |runtime error|terminate called|Assertion' "$log" | sed 's/^/    /'
  fi
done
exit $status
