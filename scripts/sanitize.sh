#!/usr/bin/env bash
# Builds and tests moeasr under a sanitizer, with the CMake presets of
# CMakePresets.json (see docs/testing.md):
#   scripts/sanitize.sh asan    every test under AddressSanitizer + LeakSanitizer + UBSan (build-asan/)
#   scripts/sanitize.sh tsan    the threading tests under ThreadSanitizer (build-tsan/)
# Any sanitizer report fails the test that caused it. CI (.ci/run) runs both
# after scripts/test.sh. Environment: MOEASR_SKIP_APT=1 skips the package step.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/sanitize.sh asan|tsan}
case $preset in
  asan | tsan) ;;
  *) echo "sanitize: unknown preset '$preset' (asan or tsan)" >&2; exit 2 ;;
esac
MOEASR_SKIP_BUILD=1 scripts/setup.sh  # the Debian packages (gcc brings the sanitizer runtimes)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
