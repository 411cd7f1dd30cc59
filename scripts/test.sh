#!/usr/bin/env bash
# Builds moeasr (installing its Debian dependencies if needed) and runs every
# test: the C++ suite through ctest, which includes the Python tool tests.
#   scripts/test.sh [build-dir]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
scripts/setup.sh "$BUILD_DIR"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
