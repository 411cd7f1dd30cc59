// GEMM kernels for few rows (m <= kSmallRows): y[m, n] = x[m, k] W^T, with W
// [n, k] read straight from its storage (f32, bf16, f16; int8 is in
// gemm_small_i8.h). In this regime a
// linear layer is bound by streaming W from memory, so the kernels read every
// weight exactly once per call: the outer loop walks W four rows at a time
// (the block stays in L1) and the inner loop applies them to all x rows
// (which stay in L2); the blocks two ahead are prefetched into L2 meanwhile,
// spread over the block's steps. AVX-512, chosen at run time; NEON on ARM
// (gemm_small_neon.cc, gemm_small_i8_neon.cc).
#pragma once

#include <cstdint>

namespace moeasr::cpu {

constexpr int64_t kSmallRows = 64;

struct SmallGemmSupport {
  bool f32 = false, bf16 = false, f16 = false, i8 = false;
  bool bf16_dot = false;  // bf16 x bf16 dot products (gemm_bf16.h)
};
// What this CPU runs: on x86-64, AVX-512F+BW for f32/bf16/f16, AVX-512 VNNI
// for int8, AVX512_BF16 for bf16_dot; on ARM, NEON for f32/bf16/f16 and the
// ARMv8.2 dot product (SDOT, AArch64) for int8.
const SmallGemmSupport& small_gemm_support();

// y[i * ldy + j] = sum_c x[i * k + c] * w[j * k + c]   (no bias)
void small_gemm_f32(const float* x, int64_t m, int64_t k, const float* w, int64_t n, float* y, int64_t ldy);
// w holds bfloat16 bits.
void small_gemm_bf16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy);
// w holds IEEE half bits.
void small_gemm_f16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy);

}  // namespace moeasr::cpu
