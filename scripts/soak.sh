#!/usr/bin/env bash
# Soak test: one stream fed MINUTES of audio (the shipped samples looped, 1.5 s
# of room tone between them), driven like a live captioning app: 100 ms
# pieces, bounded attention history, a partial result every second, and on
# each endpoint the final (rescored) result and a reset. Prints resident memory
# and heap after every minute of audio and fails if resident memory after the
# first minute leaves a +-5% band around it. Numbers: docs/reliability.md.
#   scripts/soak.sh [MINUTES [MODEL_DIR [extra moeasr-soak flags...]]]   (default: 60, models/en_moe_small)
# e.g. scripts/soak.sh 60 models/en_moe_small --endpoint 0   (one endless utterance: its transcript grows)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-60}
model=${2:-models/en_moe_small}
shift 2 || shift $# || true
scripts/setup.sh build >&2
wavs=()
for w in samples/*.wav; do wavs+=(--wav "$w"); done
exec build/tools/soak/moeasr-soak --model "$model" --minutes "$minutes" "${wavs[@]}" --gap-ms 1500 \
  --chunk-size 16 --left-chunks 4 --rescoring 1 --endpoint 1 --piece-ms 100 --report-minutes 1 --tolerance 0.05 "$@"
