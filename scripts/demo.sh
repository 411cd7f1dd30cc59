#!/usr/bin/env bash
# Sets moeasr up (Debian packages + build) and decodes WAV files with a model
# directory, printing one JSON line per file.
#   scripts/demo.sh [MODEL_DIR [FILE.wav ...]]
# Default: the shipped model on the shipped samples; without one, the tiny
# random-weight test model (its transcripts are noise) on the test audio.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build >&2

model=${1:-}
if [[ -z "$model" ]]; then
  if [[ -f models/en_moe_small/model.safetensors ]]; then
    model=models/en_moe_small
  else
    model=tests/data/models/moe_ln
    echo "demo: no trained model shipped yet; using the random-weight test model (noise transcripts)" >&2
  fi
fi
shift || true
wavs=("$@")
if ((${#wavs[@]} == 0)); then
  if compgen -G "samples/*.wav" >/dev/null; then wavs=(samples/*.wav); else wavs=(tests/data/audio/hello.wav tests/data/audio/numbers.wav); fi
fi
args=()
for w in "${wavs[@]}"; do args+=(--wav "$w"); done
echo "demo: decoding ${#wavs[@]} file(s) with $model (chunk 16 = 640 ms streaming, attention rescoring)" >&2
exec build/src/cli/moeasr-decode --model "$model" "${args[@]}"
