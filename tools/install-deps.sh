#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the build, tests and demo need; installs
# nothing that is already there. Uses sudo when not root.
#
# Another package manager may hold apt's lock (fresh Ubuntu machines run
# unattended-upgrades for their first minutes): then this says so and waits,
# up to APT_LOCK_TIMEOUT seconds (default 900), instead of failing at once.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libdnnl-dev ocl-icd-opencl-dev   # oneDNN (GEMM); its CMake config wants OpenCL headers
  libopenblas-dev                  # CBLAS fallback GEMM
  libturbojpeg0-dev libjpeg-dev zlib1g-dev  # JPEG decoding (TurboJPEG + libjpeg region decode), PNG writing, gzip IDX
  libfmt-dev nlohmann-json3-dev libcli11-dev
  libyaml-cpp-dev                  # run configs (mapet pretrain --config)
  libgtest-dev libbenchmark-dev
  libboost-context-dev             # fibers of the SIMT runtime (kernels/simt)
  libfaiss-dev                     # tokenizer k-means (and the assignment kernel's peer)
  libopenmpi-dev openmpi-bin       # data-parallel training over several processes (mpirun)
  dataset-fashion-mnist            # the embedded real-image dataset
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
lock_timeout=${APT_LOCK_TIMEOUT:-900}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# apt-get ARGS..., waiting while another process holds the dpkg or apt lists
# lock. The first try fails fast, so the wait can be announced; later tries let
# apt itself wait (DPkg::Lock::Timeout) for what is left of the time. apt-get
# update's lists lock is not covered by that option everywhere: the loop also
# retries it.
apt_get() {
  local deadline=$((SECONDS + lock_timeout)) apt_wait=0 status left
  while :; do
    set +e
    $SUDO apt-get -o DPkg::Lock::Timeout="$apt_wait" "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] && return 0
    grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock directory' "$log" || return "$status"
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "install-deps: apt's lock was still held after ${lock_timeout} s; let the other package manager finish" \
        "(or set APT_LOCK_TIMEOUT), then run this again" >&2
      return "$status"
    fi
    if [ "$apt_wait" -eq 0 ]; then
      echo "install-deps: another package manager (often unattended-upgrades on a fresh machine) holds apt's lock;" \
        "waiting for it, up to ${lock_timeout} s (APT_LOCK_TIMEOUT)"
    fi
    left=$((deadline - SECONDS))
    sleep $((left < 5 ? left : 5))
    apt_wait=$((deadline > SECONDS ? deadline - SECONDS : 0))
  done
}

apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}"
