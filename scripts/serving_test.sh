#!/usr/bin/env bash
# Runs moeasr under a real Triton Inference Server on localhost and checks it
# over gRPC (tests/serving/triton_server_test.py): 32 concurrent sequences
# against moeasr-decode, bad requests, idle release, instance reload, offline.
#   scripts/serving_test.sh [build-dir]      (default: build)
# Builds the backend into build-dir (-DMOEASR_WITH_TRITON=ON) and installs the
# server from PyPI into .venv-triton (scripts/triton_env.sh). The server is
# stopped at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
# shellcheck source=scripts/triton_env.sh
source scripts/triton_env.sh
triton_setup "$BUILD_DIR"
MOEASR_TRITONSERVER=$TRITONSERVER MOEASR_TRITON_BACKENDS=$TRITON_BACKENDS \
  timeout 900 "$TRITON_PYTHON" tests/serving/triton_server_test.py
