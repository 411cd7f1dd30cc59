#!/usr/bin/env bash
# Soak test: one stream fed MINUTES of audio (the test utterances looped) with
# bounded attention history and no rescoring; prints resident memory and heap
# in use after every minute of audio and fails if resident memory after the
# first minute leaves a +-5% band around it. Numbers: docs/reliability.md.
#   scripts/soak.sh [MINUTES [MODEL_DIR [extra moeasr-soak flags...]]]   (default: 60, tests/data/models/moe_ln)
# e.g. scripts/soak.sh 60 tests/data/models/moe_ln --rescoring 1   (shows what rescoring keeps)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-60}
model=${2:-tests/data/models/moe_ln}
shift 2 || shift $# || true
scripts/setup.sh build >&2
exec build/tools/soak/moeasr-soak --model "$model" --minutes "$minutes" \
  --wav tests/data/audio/hello.wav --wav tests/data/audio/numbers.wav \
  --chunk-size 16 --left-chunks 4 --rescoring 0 --piece-ms 100 --report-minutes 1 --tolerance 0.05 "$@"
