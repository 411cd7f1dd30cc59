#!/usr/bin/env bash
# Runs the benchmark report's measurements (docs/benchmarks.md) and keeps the
# raw JSON: paper-shaped Dense-225M vs MoE-1B (interleaved, ratio of medians)
# at 1 and 8 streams, per compute type, MoT vs top-k MoE vs dense FFN layers,
# plus the kernel benchmarks.
#   scripts/bench.sh [OUT_DIR]      (default: bench-results/, git-ignored)
# Needs ~6 GB of free memory (the MoE-1B random weights) and a quiet machine:
# run nothing else meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-results}
mkdir -p "$OUT"
MOEASR_SKIP_APT=${MOEASR_SKIP_APT:-1} scripts/setup.sh build >&2
BENCH=build/bench/moeasr-bench
DENSE=configs/u2pp_conformer_dense_225m.yaml
MOE=configs/u2pp_conformer_moe_1b.yaml
common=(--random-weights --chunk-size 16 --threads 1 --audio-seconds 10 --warmup 1 --repeat 3 --json)

for ct in float32 bfloat16 int8; do
  for streams in 1 8; do
    echo "bench: dense vs moe, $streams stream(s), $ct" >&2
    "$BENCH" --compare "$DENSE" "$MOE" --streams "$streams" --compute-type "$ct" "${common[@]}" \
      > "$OUT/compare_${ct}_s${streams}.json"
  done
done
echo "bench: MoE grouped vs per-expert loop (MoE-1B, 1 and 8 streams)" >&2
for streams in 1 8; do
  for gemm in grouped loop; do
    "$BENCH" --config "$MOE" --moe-gemm "$gemm" --streams "$streams" "${common[@]}" > "$OUT/moe_gemm_${gemm}_s${streams}.json"
  done
done
echo "bench: chunk sizes (MoE-1B, 1 stream)" >&2
for chunk in 4 8 16 32; do
  "$BENCH" --config "$MOE" --random-weights --chunk-size "$chunk" --threads 1 --audio-seconds 10 --repeat 2 --json \
    > "$OUT/moe_chunk${chunk}.json"
done
echo "bench: Mixture of Tokens vs top-k MoE vs dense FFN at equal parameter count" >&2
build/bench/moeasr-mot-bench --json > "$OUT/mot_vs_moe_vs_dense.json"
echo "bench: kernels" >&2
build/bench/moeasr-kernel-bench --benchmark_format=json --benchmark_min_time=0.2 > "$OUT/kernels.json"
echo "bench: results in $OUT" >&2
