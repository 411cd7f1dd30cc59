#!/usr/bin/env bash
# Sets moeasr up (Debian packages + build) and decodes WAV files with a model
# directory, printing one line per file: its name and transcript (and, for the
# shipped samples, the reference text from samples/text).
#   scripts/demo.sh [MODEL_DIR [FILE.wav ...]]
# Default: the shipped model on the shipped samples; without one, the tiny
# random-weight test model (its transcripts are noise) on the test audio.
# MOEASR_DEMO_JSON=1 prints moeasr-decode's JSON lines (n-best, scores, timestamps) instead.
# MOEASR_DEMO_BINARY=PATH uses that moeasr-decode instead of setting up and building build/.
set -euo pipefail
# MODEL_DIR and the files are named from the caller's directory.
args=()
for a in "$@"; do
  if [[ -e "$a" ]]; then args+=("$(realpath "$a")"); else args+=("$a"); fi
done
set -- "${args[@]}"
cd "$(dirname "$0")/.."
decode=${MOEASR_DEMO_BINARY:-build/src/cli/moeasr-decode}
if [[ -z "${MOEASR_DEMO_BINARY:-}" ]]; then scripts/setup.sh build >&2; fi

model=${1:-}
default_run=$(( $# == 0 ))
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
refs=""
if ((${#wavs[@]} == 0)); then
  if compgen -G "samples/*.wav" >/dev/null; then
    wavs=(samples/*.wav)
    if [[ -f samples/text ]]; then refs=samples/text; fi
  else
    wavs=(tests/data/audio/hello.wav tests/data/audio/numbers.wav)
  fi
fi
args=()
for w in "${wavs[@]}"; do args+=(--wav "$w"); done
echo "demo: decoding ${#wavs[@]} file(s) with $model (chunk 16 = 640 ms streaming, attention rescoring)" >&2
if [[ "${MOEASR_DEMO_JSON:-0}" == 1 ]]; then
  exec "$decode" --model "$model" "${args[@]}"
fi
# One line per file; the reference texts only when decoding the shipped samples.
"$decode" --model "$model" "${args[@]}" | REFS="$refs" python3 -c '
import json, os, sys
refs = {}
if os.environ["REFS"]:
    for line in open(os.environ["REFS"], encoding="utf-8"):
        key, _, text = line.strip().partition(" ")
        refs[key] = text
for line in sys.stdin:
    r = json.loads(line)
    if "text" not in r:
        print(line.strip())
        continue
    print("%-8s %s   (%.1f s of audio, decoded in %.2f s)"
          % (r["key"], r["text"], r["audio_seconds"], r["decode_seconds"]))
    if r["key"] in refs:
        print("%-8s %s   (reference)" % ("", refs[r["key"]] or "[nothing: no speech]"))
'

# The default run also shows the keyword-spotting classifier (AST + Soft-MoA trained on
# synthetic espeak-ng commands, models/kws_ast_moa) on its held-out sample clips.
if ((default_run)) && [[ -f models/kws_ast_moa/model.safetensors ]] && compgen -G "samples/kws/*.wav" >/dev/null; then
  echo "demo: keyword spotting with models/kws_ast_moa (file, top label, score)" >&2
  build/src/cli/moeasr-classify models/kws_ast_moa samples/kws/*.wav --top-k 1
fi
