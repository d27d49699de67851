#!/usr/bin/env bash
# tools/install-deps.sh while another package manager holds apt's lock, with a
# fake apt-get, dpkg-query and id on PATH: nothing is installed and no root is
# needed. Usage: install_deps_test.sh tools/install-deps.sh
set -euo pipefail
script=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat > "$tmp/bin/dpkg-query" <<'FAKE'
#!/bin/sh
# Every package is installed but ccache.
case "$*" in *" ccache") exit 1 ;; esac
printf 'install ok installed'
FAKE
cat > "$tmp/bin/id" <<'FAKE'
#!/bin/sh
echo 0
FAKE
cat > "$tmp/bin/apt-get" <<'FAKE'
#!/bin/sh
# The lock is held for the first $LOCKED calls; $OTHER_ERROR fails in another way.
echo "$*" >> "$STATE/args"
n=$(( $(cat "$STATE/calls" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$STATE/calls"
if [ -n "${OTHER_ERROR:-}" ]; then echo "E: Unable to locate package ccache"; exit 100; fi
if [ "$n" -le "$LOCKED" ]; then
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)"
  echo "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?"
  exit 100
fi
FAKE
chmod +x "$tmp/bin/"*

fail() { echo "FAIL: $*"; echo "--- output:"; cat "$tmp/out"; echo "--- apt-get calls:"; cat "$STATE/args" 2>/dev/null; exit 1; }
run() {  # run LOCKED [VAR=value ...]: a fresh fake state, then the script
  export STATE=$tmp/state-$1
  mkdir -p "$STATE"
  LOCKED=$1 env "${@:2}" PATH="$tmp/bin:$PATH" bash "$script" > "$tmp/out" 2>&1
}

# 1. The lock is released after the first try: the script says it waits, then installs.
run 1 || fail "the script failed although the lock was released"
grep -q "holds apt's lock" "$tmp/out" || fail "no word about waiting for the lock"
head -1 "$STATE/args" | grep -q -- "-o DPkg::Lock::Timeout=0 update" || fail "the first try should fail fast"
sed -n 2p "$STATE/args" | grep -qE -- "-o DPkg::Lock::Timeout=[1-9][0-9]* update" || fail "the retry should let apt wait"
tail -1 "$STATE/args" | grep -qE -- "DPkg::Lock::Timeout=[0-9]+ install .*ccache" || fail "ccache was not installed"

# 2. The lock is never released: the script gives up after APT_LOCK_TIMEOUT, saying why.
if run 1000 APT_LOCK_TIMEOUT=1; then fail "the script succeeded although the lock stayed held"; fi
grep -q "still held after 1 s" "$tmp/out" || fail "no word about giving up on the lock"

# 3. Another apt error is not taken for the lock: no waiting, no retry.
if run 0 OTHER_ERROR=1; then fail "the script succeeded although apt-get failed"; fi
grep -q "holds apt's lock" "$tmp/out" && fail "waited for a lock on another error"
[ "$(cat "$STATE/calls")" = 1 ] || fail "retried after another error"
echo "install-deps: waits for apt's lock, says so, gives up after the timeout, and does not retry other errors"
