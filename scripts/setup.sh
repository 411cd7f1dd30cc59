#!/usr/bin/env bash
# Installs moeasr's build dependencies (Debian packages only) and builds it.
#   scripts/setup.sh [build-dir]      (default: build)
# Environment: MOEASR_SKIP_APT=1 skips the package step; MOEASR_SKIP_BUILD=1 stops
# after it; MOEASR_EXTRA_PACKAGES adds Debian packages (the cross and ISA test
# scripts ask for qemu-user and cross compilers); CMAKE_ARGS adds cmake flags. The library's default build leaves the
# CUDA backend out; this development build asks for it where nvcc is found
# (MOEASR_WITH_CUDA=AUTO; set MOEASR_WITH_CUDA=OFF or ON to choose), so the
# CUDA code and its host-emulated tests are built and run on every machine
# that has the toolkit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libeigen3-dev libdnnl-dev ocl-icd-opencl-dev libyaml-cpp-dev nlohmann-json3-dev libsamplerate0-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-yaml
)
# shellcheck disable=SC2206
PACKAGES+=(${MOEASR_EXTRA_PACKAGES:-})

if [[ "${MOEASR_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [[ "${MOEASR_SKIP_BUILD:-0}" == 1 ]]; then exit 0; fi

# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEASR_WITH_CUDA="${MOEASR_WITH_CUDA:-AUTO}" \
  ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
