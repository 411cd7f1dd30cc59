#!/usr/bin/env bash
# Cross-builds moeasr for an ARM target and runs every test and the demo
# decode under qemu-user:
#   scripts/cross_test.sh arm64|armhf [native-build-dir]
#  - arm64: AArch64 (Debian's g++-aarch64-linux-gnu), the default options
#    (OpenMP, libsamplerate; no oneDNN, which is not built off x86-64);
#  - armhf: 32-bit ARMv7-A with NEON and VFPv4 (g++-arm-linux-gnueabihf), the
#    minimal embedded build: no OpenMP, no libsamplerate, no oneDNN.
# The target's libraries come from scripts/cross_sysroot.sh (a private
# sysroot; nothing foreign is installed system-wide). The build goes to
# build-<arch>/. Then the demo model decodes the demo samples on the target
# and on the host (native-build-dir, default build/, built if missing): the
# n-best token sequences must be equal and every score within 1e-4 (float32).
# Environment: MOEASR_SKIP_APT=1 skips the package step.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: scripts/cross_test.sh arm64|armhf [native-build-dir]}
native=${2:-build}
case $arch in
  arm64) triple=aarch64-linux-gnu qemu=qemu-aarch64 options=() ;;
  armhf)
    triple=arm-linux-gnueabihf qemu=qemu-arm
    options=(-DMOEASR_WITH_OPENMP=OFF -DMOEASR_WITH_SAMPLERATE=OFF)
    ;;
  *) echo "cross_test: unknown architecture '$arch' (arm64 or armhf)" >&2; exit 2 ;;
esac
build=build-$arch

# The host's build tools, the cross compiler and qemu-user.
MOEASR_EXTRA_PACKAGES="qemu-user g++-$triple" MOEASR_SKIP_BUILD=1 scripts/setup.sh
scripts/cross_sysroot.sh "$arch"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/$triple.cmake" "${options[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
# ctest runs every target binary through qemu (CMAKE_CROSSCOMPILING_EMULATOR).
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"

# The kernels again on emulated cores with fewer features, each checked to
# get the kernels it should (LinearKernel.RunTimeDetectionMatchesTheExpectedCore).
kernel_tests='LinearKernel.*:*LinearOp*:*MoeOp*:MoeKernel.*'
case $arch in
  arm64) cores=("cortex-a53:f32,bf16,f16" "cortex-a76:f32,bf16,f16,i8" "max:f32,bf16,f16,i8") ;;
  armhf) cores=("cortex-a7:f32,bf16,f16") ;;  # the build needs NEON + VFPv4 (Cortex-A7/A15/A17, any ARMv8 core)
esac
for entry in "${cores[@]}"; do
  core=${entry%%:*}
  echo "cross_test: kernel tests on an emulated $core" >&2
  MOEASR_EXPECT_KERNELS=${entry#*:} "$qemu" -cpu "$core" -L "/usr/$triple" "$build/tests/moeasr_unit_tests" \
    --gtest_brief=1 --gtest_filter="$kernel_tests"
done

# The demo decode, on the target and on the host.
if [[ ! -x "$native/src/cli/moeasr-decode" ]]; then scripts/setup.sh "$native" >/dev/null; fi
model=models/en_moe_small
wavs=(samples/*.wav)
if [[ ! -f $model/model.safetensors ]]; then model=tests/data/models/moe_ln wavs=(tests/data/audio/*.wav); fi
args=(--model "$model" --compute-type float32)
for w in "${wavs[@]}"; do args+=(--wav "$w"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$native/src/cli/moeasr-decode" "${args[@]}" > "$tmp/native.jsonl"
# (the binary finds the sysroot's libraries through its build RPATH)
"$qemu" -L "/usr/$triple" "$build/src/cli/moeasr-decode" "${args[@]}" > "$tmp/target.jsonl"
python3 - "$tmp/native.jsonl" "$tmp/target.jsonl" "$arch" <<'EOF'
import json, sys
native = [json.loads(l) for l in open(sys.argv[1])]
target = [json.loads(l) for l in open(sys.argv[2])]
arch = sys.argv[3]
assert len(native) == len(target) > 0, f"{len(native)} host results, {len(target)} on {arch}"
worst = 0.0
for a, b in zip(native, target):
    assert a["key"] == b["key"], (a["key"], b["key"])
    assert [h["tokens"] for h in a["nbest"]] == [h["tokens"] for h in b["nbest"]], \
        f"{a['key']}: the n-best differs on {arch}:\n  host:   {a['text']}\n  {arch}: {b['text']}"
    for ha, hb in zip(a["nbest"], b["nbest"]):
        for field in ("ctc_score", "attention_score", "score"):
            if field in ha:
                worst = max(worst, abs(ha[field] - hb[field]))
    print(f"{a['key']:10s} {b['text']}")
assert worst <= 1e-4, f"a score differs by {worst:.3g} between the host and {arch} (limit 1e-4)"
print(f"cross_test: {arch} decodes {len(target)} files as the host does "
      f"(same n-best tokens, scores within {worst:.2g})")
EOF
