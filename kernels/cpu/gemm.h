// Dense GEMM on the CPU through oneDNN (it picks AVX2 / AVX-512 / AMX kernels
// at run time), or Eigen's in a build without oneDNN (MOEASR_WITH_ONEDNN=OFF). Row-major throughout; Linear weights are stored [out, in] as
// in PyTorch, so y = x W^T.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// C[m,n] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// y[m, n] = x[m, k] * w[n, k]^T (+ bias[n] when bias != nullptr). ldy >= n.
// Through sgemm whatever m is; cpu::linear (linear.h) picks the best
// kernel and is what callers should use.
void sgemm_linear(const float* x, int64_t m, int64_t k, const float* w, const float* bias, int64_t n, float* y,
                  int64_t ldy);
// float32 convenience for cpu::linear(x, m, WeightMatrix{f32 w}, bias, y, ldy).
void linear(const float* x, int64_t m, int64_t k, const float* w, const float* bias, int64_t n, float* y,
            int64_t ldy);

}  // namespace moeasr::cpu
