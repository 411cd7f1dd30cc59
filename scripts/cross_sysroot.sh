#!/usr/bin/env bash
# A private sysroot of Debian's target-architecture libraries for a cross
# build (arm64 or armhf): `apt-get download` with apt state of its own (the
# host's dpkg is never told about the foreign architecture and nothing is
# installed system-wide: installing foreign -dev packages would replace the
# host's own), then `dpkg-deb -x` into .cross/<arch>/sysroot (git-ignored).
# The cross compilers themselves (g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf)
# bring the target's C and C++ runtime, OpenMP included.
#   scripts/cross_sysroot.sh arm64|armhf
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: scripts/cross_sysroot.sh arm64|armhf}
case $arch in arm64 | armhf) ;; *) echo "cross_sysroot: unknown architecture '$arch'" >&2; exit 2 ;; esac
root=$PWD/.cross/$arch
sysroot=$root/sysroot
# The libraries moeasr needs on the target (the test and benchmark frameworks
# included); header-only ones (Eigen, nlohmann-json) are architecture-independent.
packages=(libyaml-cpp-dev libyaml-cpp0.7 libsamplerate0-dev libsamplerate0 libgtest-dev libgmock-dev
          libeigen3-dev nlohmann-json3-dev libbenchmark-dev libbenchmark1debian)
stamp=$sysroot/.packages
if [[ -f $stamp && "$(cat "$stamp")" == "${packages[*]}" ]]; then
  echo "cross_sysroot: $sysroot is up to date" >&2
  exit 0
fi
mkdir -p "$root/apt/state/lists/partial" "$root/apt/cache/archives/partial" "$root/debs" "$sysroot"
: > "$root/apt/status"
apt_opts=(-o "Dir::State=$root/apt/state" -o "Dir::State::status=$root/apt/status" -o "Dir::Cache=$root/apt/cache"
          -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
echo "cross_sysroot: fetching the $arch package lists" >&2
apt-get "${apt_opts[@]}" -qq update
echo "cross_sysroot: downloading ${packages[*]}" >&2
(cd "$root/debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]}")
for deb in "$root"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
echo "${packages[*]}" > "$stamp"
echo "cross_sysroot: $sysroot ready" >&2
