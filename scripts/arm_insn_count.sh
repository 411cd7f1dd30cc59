#!/usr/bin/env bash
# Instructions per Linear call on an emulated AArch64 core, for each weight
# type, row count and path (the NEON few-row kernels against the library
# path: Eigen's GEMM, or the portable exact int8 GEMM). qemu-aarch64 runs
# moeasr-linear-once one instruction per block (-singlestep) and logs each
# executed block (-d exec,nochain), so the log's line count is the number of
# instructions executed; a run with 3 calls minus a run with 1, halved, is one
# call. Instruction counts are not time: a board's caches, memory bandwidth
# and issue width decide that; these only compare work.
#   scripts/arm_insn_count.sh [build-arm64] [core]      (default core: max)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-arm64}
core=${2:-max}
bin=$build/bench/moeasr-linear-once
[[ -x $bin ]] || { echo "arm_insn_count: no $bin (scripts/cross_test.sh arm64 builds it)" >&2; exit 2; }
k=${K:-256}
n=${N:-256}
count() {
  OMP_NUM_THREADS=1 qemu-aarch64 -cpu "$core" -L /usr/aarch64-linux-gnu -singlestep -d exec,nochain -D /dev/stdout \
    "$bin" "$@" | grep -c '^Trace'
}
per_call() {
  local one three
  one=$(count "$@" 1)
  three=$(count "$@" 3)
  echo $(((three - one) / 2))
}
echo "core $core, k $k, n $n: instructions per call (MACs per instruction)"
printf '%-9s %5s %14s %14s %8s\n' type rows small library "library/small"
for type in float32 float16 bfloat16 int8; do
  for rows in 1 4 16; do
    small=$(per_call "$rows" "$k" "$n" "$type" small)
    library=$(per_call "$rows" "$k" "$n" "$type" library)
    macs=$((rows * k * n))
    printf '%-9s %5d %8d (%4.2f) %8d (%4.2f) %7.2fx\n' "$type" "$rows" "$small" \
      "$(echo "$macs / $small" | bc -l)" "$library" "$(echo "$macs / $library" | bc -l)" \
      "$(echo "$library / $small" | bc -l)"
  done
done
