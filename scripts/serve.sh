#!/usr/bin/env bash
# Serves the demo model (or your models) with Triton Inference Server on this
# machine, streaming and offline:
#   scripts/serve.sh [build-dir]          (default: build)
# Builds libtriton_moeasr.so, installs tritonserver from PyPI into .venv-triton
# (scripts/triton_env.sh), and runs it in the foreground on 127.0.0.1 with the
# model repository serving/triton/model_repository (MOEASR_TRITON_REPOSITORY
# to use another). Ports: MOEASR_TRITON_GRPC_PORT (8001), MOEASR_TRITON_HTTP_PORT
# (8000), MOEASR_TRITON_METRICS_PORT (8002). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
# shellcheck source=scripts/triton_env.sh
source scripts/triton_env.sh
triton_setup "$BUILD_DIR"
GRPC_PORT=${MOEASR_TRITON_GRPC_PORT:-8001}
cat >&2 <<MSG

Stream a WAV file to it (100 ms pieces, as a microphone would), from another shell:
  $TRITON_PYTHON tools/triton_client.py --url localhost:$GRPC_PORT samples/command.wav
Add --realtime to send at the pace of the audio; --model moeasr_offline sends whole files.

MSG
exec "$TRITONSERVER" --model-repository="${MOEASR_TRITON_REPOSITORY:-$PWD/serving/triton/model_repository}" \
  --backend-directory="$TRITON_BACKENDS" --grpc-address=127.0.0.1 --grpc-port="$GRPC_PORT" \
  --http-address=127.0.0.1 --http-port="${MOEASR_TRITON_HTTP_PORT:-8000}" \
  --metrics-address=127.0.0.1 --metrics-port="${MOEASR_TRITON_METRICS_PORT:-8002}"
