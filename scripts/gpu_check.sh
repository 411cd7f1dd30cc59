#!/usr/bin/env bash
# The whole GPU check of the CUDA backend (issue A5), for a machine with an
# NVIDIA GPU: a CUDA Release build, the GPU tests (which must run, not skip),
# moeasr-bench on Dense-225M and MoE-1B at 1/16/64/256 streams (float32 and
# bfloat16), grouped vs per-expert-loop MoE GEMMs, the CUDA MoE kernel bench,
# and one markdown report with the device name, date and commit, ready to
# paste into docs/benchmarks.md, with the targets checked.
#
#   scripts/gpu_check.sh [STEP ...]
#
# Steps (default: all of them, in this order; each can run alone, so a GPU
# machine that gives 10-minute commands can run them one per command, the
# results accumulate in $MOEASR_GPU_OUT):
#   build       configure + build the CUDA targets (build dir $MOEASR_GPU_BUILD)
#   tests       the GPU tests with MOEASR_REQUIRE_GPU=1 (a skipped GPU test fails): ctest's
#               cuda.* (device layer) and every device-parameterized test's cuda0 case
#               (ops, layers, the model against the CPU, adapter sets)
#   bench-fp32  Dense-225M vs MoE-1B (interleaved), float32, streams 1 16 64 256
#   bench-bf16  the same with bfloat16 Linear weights
#   moe-gemm    MoE-1B at 64 streams with --moe-gemm grouped / cublas_grouped / loop
#   kernels     the CUDA MoE kernel benchmark, when it was built
#   host        records the host CPU's name and AMX/AVX-512 flags (for [B6])
#   report      writes the markdown ($MOEASR_GPU_REPORT) from the results so far
# Not in the default run (about 4-6 min; run it when device time is left):
#   amx         on a host CPU with AMX ([B6]): the oneDNN matmul-primitive tests, which
#               must run their AMX assertions, then moeasr-bench on the CPU (2 cores,
#               1 thread each, as the issue measured) Dense-225M vs MoE-1B at 8 streams
#               in bfloat16 and int8, and bfloat16 again with oneDNN capped below AMX
#
# Environment:
#   MOEASR_GPU_BUILD   build directory (default build-cuda, git-ignored)
#   MOEASR_GPU_OUT     raw results (default bench-results/gpu, git-ignored)
#   MOEASR_GPU_REPORT  the markdown report (default docs/gpu_results.md)
#   MOEASR_GPU_STREAMS stream counts (default "1 16 64 256")
#   MOEASR_GPU_SECONDS audio seconds per stream (default 10)
#   MOEASR_GPU_DEVICE  device option (default cuda)
#   MOEASR_GPU_THREADS host threads for fbank + CTC search (default: cores, at most 16)
# Libraries: the lent GPU machines have nvcc, CMake and ninja but not moeasr's
# Debian libraries and cannot fetch them. Run `scripts/gpu_deps.sh download`
# here first and carry `.gpu-deps` (git-ignored, ~11 MB) with the command; this
# script then unpacks it into a private prefix ($MOEASR_DEPS_PREFIX, default
# /opt/moeasr-deps) and builds against it.
# Time: build ~3-5 min on 16 cores; tests ~1-2 min; each bench step ~3-6 min
# (mostly generating the random MoE-1B weights on the host, once per stream count).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${MOEASR_GPU_BUILD:-build-cuda}
OUT=${MOEASR_GPU_OUT:-bench-results/gpu}
REPORT=${MOEASR_GPU_REPORT:-docs/gpu_results.md}
STREAMS=${MOEASR_GPU_STREAMS:-"1 16 64 256"}
SECONDS_PER_STREAM=${MOEASR_GPU_SECONDS:-10}
DEVICE=${MOEASR_GPU_DEVICE:-cuda}
DENSE=configs/u2pp_conformer_dense_225m.yaml
MOE=configs/u2pp_conformer_moe_1b.yaml
BENCH=$BUILD/bench/moeasr-bench
# Host threads for the streams' fbank and CTC search (the encoder is on the GPU).
THREADS=${MOEASR_GPU_THREADS:-$(( $(nproc) < 16 ? $(nproc) : 16 ))}
common=(--random-weights --chunk-size 16 --threads "$THREADS" --audio-seconds "$SECONDS_PER_STREAM" --warmup 1
        --repeat 3 --no-probe --json --device "$DEVICE")

say() { echo "gpu_check: $*" >&2; }
die() { say "$*"; exit 1; }

# Refuse clearly on a machine without a GPU: nothing here would mean anything.
require_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 || die "no GPU: nvidia-smi not found (this script needs an NVIDIA GPU machine)"
  nvidia-smi -L 2>/dev/null | grep -q '^GPU ' || die "no GPU: nvidia-smi lists no device"
}

step_build() {
  command -v nvcc >/dev/null 2>&1 || [[ -x /usr/local/cuda/bin/nvcc ]] || die "nvcc not found: install the CUDA toolkit"
  say "configuring $BUILD (Release, CUDA on)"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEASR_WITH_CUDA=ON >&2
  local targets=(moeasr_cuda_tests moeasr_unit_tests moeasr-bench)
  local t
  for t in moeasr-cuda-moe-bench cuda_moe_bench moeasr_cuda_moe_bench; do
    if ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q "^$t:"; then targets+=("$t"); fi
  done
  say "building ${targets[*]}"
  ninja -C "$BUILD" "${targets[@]}" >&2
}

step_tests() {
  require_gpu
  mkdir -p "$OUT"
  say "GPU tests (MOEASR_REQUIRE_GPU=1: a test that finds no device fails instead of skipping)"
  local rc=0
  # The host emulation's copies (emulated_cuda.*) are for machines without a GPU.
  MOEASR_REQUIRE_GPU=1 ctest --test-dir "$BUILD" -R '^cuda[.]|cuda0|DevicesTest' -E '^emulated_cuda[.]' \
    -j "$THREADS" --output-on-failure --timeout 900 > "$OUT/ctest.txt" 2>&1 || rc=$?
  tail -n 40 "$OUT/ctest.txt" >&2
  grep -q "tests passed" "$OUT/ctest.txt" || die "ctest ran no GPU tests (was the build configured with CUDA?)"
  grep -q "cuda0" "$OUT/ctest.txt" || die "no device-parameterized test ran on cuda0 (is the GPU visible?)"
  # Only the checks meant for machines without a GPU (named NoGpu...) may skip
  # here; any other skip means a test found no device on a GPU machine.
  local skipped
  skipped=$(grep -E '\(Skipped\)' "$OUT/ctest.txt" | grep -v 'NoGpu' || true)
  if [[ -n "$skipped" ]]; then die "GPU tests were skipped on a GPU machine:"$'\n'"$skipped"; fi
  echo "$rc" > "$OUT/ctest.rc"
  [[ $rc == 0 ]] || die "GPU tests failed (see $OUT/ctest.txt)"
}

bench_types() {  # $1: compute type
  require_gpu
  mkdir -p "$OUT"
  local s
  for s in $STREAMS; do
    say "Dense-225M vs MoE-1B, $1, $s stream(s)"
    "$BENCH" --compare "$DENSE" "$MOE" --streams "$s" --compute-type "$1" "${common[@]}" > "$OUT/compare_$1_s$s.json"
  done
}

step_moe_gemm() {
  require_gpu
  mkdir -p "$OUT"
  local g
  for g in grouped cublas_grouped loop; do
    say "MoE-1B, 64 streams, --moe-gemm $g"
    "$BENCH" --config "$MOE" --streams 64 --moe-gemm "$g" "${common[@]}" > "$OUT/moe_gemm_$g.json"
  done
}

step_kernels() {
  require_gpu
  mkdir -p "$OUT"
  local t
  for t in moeasr-cuda-moe-bench cuda_moe_bench moeasr_cuda_moe_bench; do
    if [[ -x "$BUILD/bench/$t" ]]; then
      : > "$OUT/kernel_moe.txt"
      local dtype
      for dtype in f32 bf16; do
        say "CUDA MoE kernel bench ($t --dtype $dtype)"
        echo "\$ $t --streams 1,16,64,256 --dtype $dtype" >> "$OUT/kernel_moe.txt"
        "$BUILD/bench/$t" --streams 1,16,64,256 --dtype "$dtype" >> "$OUT/kernel_moe.txt" 2>&1 ||
          die "$t failed (see $OUT/kernel_moe.txt)"
      done
      return
    fi
  done
  say "no CUDA MoE kernel bench was built; skipping it"
}

step_host() {
  mkdir -p "$OUT"
  local name flags
  name=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(amx|avx512f$|avx512_bf16|avx512_vnni)' | sort -u | tr '\n' ' ')
  printf '%s\n%s\n%s\n' "$name" "${flags% }" "$(nproc)" > "$OUT/host_cpu.txt"
  say "host CPU: $name, $(nproc) CPUs; flags: ${flags:-none of AMX/AVX-512}"
}

step_amx() {
  step_host
  if ! grep -qw amx_tile "$OUT/host_cpu.txt"; then
    say "the host CPU has no AMX: nothing to measure for [B6]"
    return 0
  fi
  say "oneDNN matmul-primitive tests on an AMX CPU (their AMX assertions must run)"
  ctest --test-dir "$BUILD" -R 'MatmulPrimitive' --output-on-failure > "$OUT/amx_ctest.txt" 2>&1 ||
    die "the matmul-primitive tests failed (see $OUT/amx_ctest.txt)"
  if grep -E 'AmxKernelsWhereTheCpuHasThem' "$OUT/amx_ctest.txt" | grep -q 'Skipped'; then
    die "the AMX test skipped on a CPU with amx_tile (see $OUT/amx_ctest.txt)"
  fi
  local cpu_common=(--random-weights --chunk-size 16 --threads 2 --audio-seconds 10 --warmup 1
                    --repeat 1 --no-probe --json --device cpu --streams 8)
  local ct
  for ct in bfloat16 int8; do
    say "CPU (cores 0-1): Dense-225M vs MoE-1B, $ct, 8 streams"
    taskset -c 0,1 "$BENCH" --compare "$DENSE" "$MOE" --compute-type "$ct" "${cpu_common[@]}" \
      > "$OUT/amx_compare_$ct.json"
  done
  say "CPU (cores 0-1): the same in bfloat16 with oneDNN capped at AVX512_CORE_BF16 (no AMX)"
  ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 taskset -c 0,1 "$BENCH" --compare "$DENSE" "$MOE" \
    --compute-type bfloat16 "${cpu_common[@]}" > "$OUT/amx_compare_bfloat16_noamx.json"
}

step_report() {
  mkdir -p "$(dirname "$REPORT")"
  local gpu_name="unknown (nvidia-smi missing)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
  fi
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit (with local changes)"; fi
  GPU_NAME="$gpu_name" COMMIT="$commit" OUT="$OUT" REPORT="$REPORT" STREAMS="$STREAMS" \
    AUDIO_SECONDS="$SECONDS_PER_STREAM" THREADS="$THREADS" \
    /usr/bin/env python3 - <<'PY'
import glob, json, os, datetime
out, report = os.environ["OUT"], os.environ["REPORT"]
streams = [int(s) for s in os.environ["STREAMS"].split()]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
lines = ["# GPU results (CUDA backend)", "",
         f"- device: {os.environ['GPU_NAME']}",
         f"- date: {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}",
         f"- commit: {os.environ['COMMIT']}",
         f"- moeasr-bench: random weights, chunk 16, {os.environ['AUDIO_SECONDS']} s of synthetic audio per stream, "
         f"{os.environ['THREADS']} host threads (fbank, CTC search), warmup 1, median of 3,",
         "  attention rescoring at the end; RTF = decode wall time / total audio time of all streams, so",
         "  1 / RTF is how many real-time streams the batch sustains (streams / per-stream RTF).", ""]
rc = None
if os.path.exists(os.path.join(out, "ctest.rc")):
    rc = open(os.path.join(out, "ctest.rc")).read().strip()
lines.append("## GPU tests\n")
if rc is None:
    lines.append("not run\n")
else:
    summary = [l for l in open(os.path.join(out, "ctest.txt")) if "tests passed" in l]
    lines.append(("PASSED" if rc == "0" else "FAILED") + (": " + summary[0].strip() if summary else "") + "\n")
targets = []
for ct in ("float32", "bfloat16"):
    rows = []
    for s in streams:
        j = load(os.path.join(out, f"compare_{ct}_s{s}.json"))
        if not j:
            continue
        a, b = j["a"], j["b"]
        rows.append((s, a["rtf"], b["rtf"], j["ratio"], 1 / a["rtf"] if a["rtf"] > 0 else 0,
                     1 / b["rtf"] if b["rtf"] > 0 else 0, a["chunk_latency_ms"]["p50"], b["chunk_latency_ms"]["p50"]))
    if not rows:
        continue
    lines += [f"## Dense-225M vs MoE-1B, {ct}\n",
              "| streams | RTF Dense-225M | RTF MoE-1B | ratio MoE/Dense | real-time streams Dense | real-time streams MoE | step p50 ms Dense | step p50 ms MoE |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]:.5f} | {r[2]:.5f} | **{r[3]:.3f}** | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.2f} | {r[7]:.2f} |")
    lines.append("")
    at64 = [r for r in rows if r[0] == 64]
    if at64:
        targets.append((f"MoE-1B / Dense-225M RTF at 64 streams ({ct}) <= 1.1", f"{at64[0][3]:.3f}", at64[0][3] <= 1.1))
    top = max(rows, key=lambda r: r[0])
    targets.append((f"real-time Dense-225M streams at {top[0]} streams ({ct}) >= 2000", f"{top[4]:.0f}", top[4] >= 2000))
gemm = {g: load(os.path.join(out, f"moe_gemm_{g}.json")) for g in ("grouped", "cublas_grouped", "loop")}
if any(gemm.values()):
    lines += ["## MoE-1B expert GEMMs, 64 streams, float32 (end to end)\n",
              "| --moe-gemm | RTF | step p50 ms |", "|---|---:|---:|"]
    for g, j in gemm.items():
        if j:
            lines.append(f"| {g} | {j['result']['rtf']:.5f} | {j['result']['chunk_latency_ms']['p50']:.2f} |")
    lines.append("")
    if gemm["grouped"] and gemm["loop"]:
        ratio = gemm["loop"]["result"]["rtf"] / gemm["grouped"]["result"]["rtf"]
        targets.append(("grouped MoE vs per-expert loop at 64 streams, end to end (x faster) >= 2", f"{ratio:.2f}", ratio >= 2))
host = os.path.join(out, "host_cpu.txt")
if os.path.exists(host):
    name, flags, cpus = (open(host).read().split("\n") + ["", "", ""])[:3]
    has_amx = "amx_tile" in flags.split()
    lines += ["## Host CPU\n", f"- {name}, {cpus} CPUs; {'**has AMX**' if has_amx else 'no AMX'}"
              f" (flags: {flags or 'none of AMX/AVX-512'})", ""]
amx_rows = []
for tag, label in (("bfloat16", "bfloat16"), ("int8", "int8"), ("bfloat16_noamx", "bfloat16, oneDNN without AMX")):
    j = load(os.path.join(out, f"amx_compare_{tag}.json"))
    if j:
        amx_rows.append(f"| {label} | {j['a']['rtf']:.4f} | {j['b']['rtf']:.4f} | {j['ratio']:.3f} |")
if amx_rows:
    lines += ["## Host CPU, 2 cores (1 thread each), 8 streams ([B6])\n",
              "| compute type | RTF Dense-225M | RTF MoE-1B | ratio MoE/Dense |", "|---|---:|---:|---:|"]
    lines += amx_rows + [""]
kernel = os.path.join(out, "kernel_moe.txt")
if os.path.exists(kernel):
    lines += ["## CUDA MoE kernel bench\n", "```", open(kernel).read().rstrip(), "```", ""]
if targets:
    lines += ["## Targets\n", "| target | measured | met |", "|---|---:|---|"]
    for name, value, ok in targets:
        lines.append(f"| {name} | {value} | {'yes' if ok else '**no**'} |")
    lines.append("")
with open(report, "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
  say "wrote $REPORT"
}

# A GPU machine without moeasr's Debian libraries gets them from .gpu-deps/
# (scripts/gpu_deps.sh download, run where apt works, then carried along).
use_carried_deps() {
  [[ -d .gpu-deps && ! -e /usr/include/oneapi/dnnl/dnnl.hpp ]] || return 0
  local prefix=${MOEASR_DEPS_PREFIX:-/opt/moeasr-deps}
  [[ -d $prefix/usr ]] || scripts/gpu_deps.sh install "$prefix"
  # shellcheck disable=SC1090
  source <(scripts/gpu_deps.sh env "$prefix")
  say "using the carried Debian libraries under $prefix"
}
steps=("$@")
if ((${#steps[@]} == 0)); then
  require_gpu  # the whole check means nothing without a GPU: say so before building
  steps=(host build tests bench-fp32 bench-bf16 moe-gemm kernels report)
fi
use_carried_deps
for s in "${steps[@]}"; do
  case "$s" in
    build) step_build ;;
    tests) step_tests ;;
    bench-fp32) bench_types float32 ;;
    bench-bf16) bench_types bfloat16 ;;
    moe-gemm) step_moe_gemm ;;
    kernels) step_kernels ;;
    host) step_host ;;
    amx) step_amx ;;
    report) step_report ;;
    *) die "unknown step '$s' (host build tests bench-fp32 bench-bf16 moe-gemm kernels amx report)" ;;
  esac
done
