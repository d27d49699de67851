#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the build, tests and demo need; installs
# nothing that is already there. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libdnnl-dev ocl-icd-opencl-dev   # oneDNN (GEMM); its CMake config wants OpenCL headers
  libopenblas-dev                  # CBLAS fallback GEMM
  libturbojpeg0-dev libjpeg-dev zlib1g-dev  # JPEG decoding (TurboJPEG + libjpeg region decode), PNG writing, gzip IDX
  libfmt-dev nlohmann-json3-dev libcli11-dev
  libyaml-cpp-dev                  # run configs (mapet pretrain --config)
  libgtest-dev libbenchmark-dev
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
