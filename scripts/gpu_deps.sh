#!/usr/bin/env bash
# moeasr's Debian build dependencies, carried to a GPU machine that cannot
# install them itself.
#
# The GPU machines lent to development sessions come with nvcc, CMake and
# ninja but without moeasr's libraries (oneDNN, Eigen, yaml-cpp, libsamplerate,
# GoogleTest, Google Benchmark, pkg-config), and they cannot fetch anything. So:
#
#   scripts/gpu_deps.sh download        # here, with apt: the .debs into .gpu-deps/ (git-ignored, ~25 MB)
#   scripts/gpu_deps.sh install [DIR]   # there: unpack them under DIR (default /opt/moeasr-deps)
#   source <(scripts/gpu_deps.sh env [DIR])   # there: CMake, pkg-config and the loader find them
#
# The packages are unpacked into their own prefix, never over /, so nothing the
# machine's image has is replaced. scripts/gpu_check.sh uses the prefix by
# itself when .gpu-deps/ exists. The libraries are Debian 12's (glibc 2.36).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=.gpu-deps
PACKAGES=(
  libeigen3-dev nlohmann-json3-dev
  libdnnl-dev libdnnl2 ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-c-headers opencl-clhpp-headers
  libyaml-cpp-dev libyaml-cpp0.7
  libsamplerate0-dev libsamplerate0
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev libbenchmark1debian
  pkgconf pkgconf-bin libpkgconf3
)

die() { echo "gpu_deps: $*" >&2; exit 1; }

download() {
  command -v apt-get >/dev/null || die "apt-get not found: download on a Debian machine"
  mkdir -p "$DEBS"
  (cd "$DEBS" && apt-get download "${PACKAGES[@]}")
  echo "gpu_deps: $(ls "$DEBS"/*.deb | wc -l) packages, $(du -sh "$DEBS" | cut -f1) in $DEBS" >&2
}

install() {
  local prefix=${1:-/opt/moeasr-deps}
  compgen -G "$DEBS/*.deb" >/dev/null || die "no packages in $DEBS: run 'scripts/gpu_deps.sh download' first"
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
  mkdir -p "$prefix"
  local deb
  for deb in "$DEBS"/*.deb; do dpkg-deb -x "$deb" "$prefix"; done
  # pkg-config files name /usr as their prefix; point them at the unpacked tree.
  local pc
  for pc in "$prefix"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc; do
    [[ -f $pc ]] && sed -i "s|^prefix=/usr\$|prefix=$prefix/usr|" "$pc"
  done
  echo "gpu_deps: unpacked $(ls "$DEBS"/*.deb | wc -l) packages into $prefix" >&2
}

env_lines() {
  local prefix=${1:-/opt/moeasr-deps}
  [[ -d $prefix/usr ]] || die "$prefix/usr does not exist: run 'scripts/gpu_deps.sh install $prefix' first"
  local lib=$prefix/usr/lib/x86_64-linux-gnu
  cat <<EOT
export CMAKE_PREFIX_PATH="$prefix/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export PKG_CONFIG_PATH="$lib/pkgconfig:$prefix/usr/share/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PATH="\$PATH:$prefix/usr/bin"
export MOEASR_DEPS_PREFIX="$prefix"
EOT
  # pkgconf installs only "pkgconf"; CMake looks for "pkg-config".
  if ! command -v pkg-config >/dev/null && [[ -x $prefix/usr/bin/pkgconf ]]; then
    echo "export PKG_CONFIG=\"$prefix/usr/bin/pkgconf\""
  fi
}

case "${1:-}" in
  download) download ;;
  install) install "${2:-}" ;;
  env) env_lines "${2:-}" ;;
  *) die "usage: scripts/gpu_deps.sh download | install [DIR] | env [DIR]" ;;
esac
