// GEMM kernels for few rows (m <= kSmallRows): y[m, n] = x[m, k] W^T, with W
// [n, k] read straight from its storage (f32, bf16, int8). In this regime a
// linear layer is bound by streaming W from memory, so the kernels read every
// weight exactly once per call: the outer loop walks W four rows at a time
// (the block stays in L1) and the inner loop applies them to all x rows
// (which stay in L2). AVX-512 (+VNNI for int8), chosen at run time.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

constexpr int64_t kSmallRows = 48;

struct SmallGemmSupport {
  bool f32 = false, bf16 = false, i8 = false;
};
// What this CPU runs (AVX-512F+BW for f32/bf16, AVX-512 VNNI for int8).
const SmallGemmSupport& small_gemm_support();

// y[i * ldy + j] = sum_c x[i * k + c] * w[j * k + c]   (no bias)
void small_gemm_f32(const float* x, int64_t m, int64_t k, const float* w, int64_t n, float* y, int64_t ldy);
// w holds bfloat16 bits.
void small_gemm_bf16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy);
// Integer dot products of u8 activations and s8 weights: acc[i * n + j] = sum_c xq[i * k + c] * w[j * k + c].
void small_gemm_u8s8(const uint8_t* xq, int64_t m, int64_t k, const int8_t* w, int64_t n, int32_t* acc);

}  // namespace moeasr::cpu
