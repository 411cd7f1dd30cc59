#!/usr/bin/env bash
# The x86 kernels on CPUs older than the build machine's:
#  1. the unit tests with oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2), as on
#     an AVX2 laptop, Skylake-SP or AMD Zen 1-3: oneDNN's int8 GEMM is then
#     not exact, so moeasr must not use it there (kernels/cpu/linear.cc);
#  2. the kernel and compute-type tests under qemu-x86_64 -cpu Haswell, a CPU
#     without AVX-512 at all, so moeasr's own run-time dispatch takes its
#     AVX2 and portable paths.
#   scripts/x86_isa_test.sh [build-dir]     (default: build; built if missing)
# Environment: MOEASR_SKIP_APT=1 skips the package step.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [[ "$(uname -m)" != x86_64 ]]; then
  echo "x86_isa_test: nothing to do on $(uname -m)" >&2
  exit 0
fi
MOEASR_EXTRA_PACKAGES=qemu-user MOEASR_SKIP_BUILD=1 scripts/setup.sh
if [[ ! -x "$build/tests/moeasr_unit_tests" ]]; then scripts/setup.sh "$build"; fi

echo "x86_isa_test: the unit tests with ONEDNN_MAX_CPU_ISA=AVX2" >&2
ONEDNN_MAX_CPU_ISA=AVX2 "$build/tests/moeasr_unit_tests" --gtest_brief=1

echo "x86_isa_test: the kernel tests on an emulated Haswell (no AVX-512)" >&2
MOEASR_EXPECT_KERNELS= qemu-x86_64 -cpu Haswell "$build/tests/moeasr_unit_tests" \
  --gtest_filter='*Kernel.*:ComputeType.*:SixteenBitWeights.*:*MoeOp*:*LinearOp*:*ElementwiseOp*:*AttentionOp*'
