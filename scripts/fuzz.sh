#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and
# runs each for a fixed time, then prints the total executions per target.
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]     (default: 60 s, all targets)
# Targets: safetensors config units model_dir wav c_api (fuzz/*_fuzz.cc).
# Each run starts from the committed seeds (fuzz/corpus/<target>/) plus what
# earlier runs found (build-fuzz/corpus/<target>/, not committed). A crash,
# leak, timeout (> 30 s per input) or an allocation over 1 GiB stops the run; its
# input lands in build-fuzz/artifacts/<target>/ and the script exits non-zero.
# Environment: MOEASR_SKIP_APT=1 skips installing clang; FUZZ_JOBS=N runs N
# targets at a time (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then TARGETS=(safetensors config units model_dir wav c_api); fi

# clang and its runtime libraries (libFuzzer, sanitizers) come from Debian.
if [[ "${MOEASR_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in clang libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
    echo "fuzz: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
MOEASR_SKIP_BUILD=1 scripts/setup.sh  # the library's own Debian packages

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LOGS=build-fuzz/logs
mkdir -p "$LOGS"

run_one() {
  local t=$1
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
  local status=0
  # -malloc_limit_mb: a single allocation over 1 GiB is a bug for these inputs
  # (the loaders must reject absurd sizes before allocating).
  build-fuzz/fuzz/fuzz_"$t" "build-fuzz/corpus/$t" "fuzz/corpus/$t" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=4096 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t/" \
    >"$LOGS/$t.log" 2>&1 || status=$?
  echo "$status" >"$LOGS/$t.status"
}

jobs=${FUZZ_JOBS:-1}
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  while (($(jobs -r | wc -l) >= jobs)); do wait -n || true; done
done
wait

failed=0
printf '%-12s %12s %8s %8s  %s\n' target execs exec/s corpus result
for t in "${TARGETS[@]}"; do
  log=$LOGS/$t.log
  execs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1 || true)
  rate=$(grep -oP 'stat::average_exec_per_sec:\s*\K[0-9]+' "$log" | tail -1 || true)
  units=$(find "build-fuzz/corpus/$t" -type f | wc -l)
  status=$(cat "$LOGS/$t.status")
  result=ok
  if [[ $status != 0 ]]; then
    result="FAILED (exit $status; see $log and build-fuzz/artifacts/$t/)"
    failed=1
  fi
  printf '%-12s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$units" "$result"
done
exit $failed
