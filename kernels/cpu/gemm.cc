#include "kernels/cpu/gemm.h"

#include <dnnl.h>

#include "core/error.h"
#include "kernels/cpu/linear.h"

namespace moeasr::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // oneDNN rejects K = 0; the product is empty
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    }
    return;
  }
  dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  MOEASR_CHECK(s == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN sgemm failed (status ", static_cast<int>(s), ") for m=",
               m, " n=", n, " k=", k);
}

void sgemm_linear(const float* x, int64_t m, int64_t k, const float* w, const float* bias, int64_t n, float* y,
                  int64_t ldy) {
  if (m == 0) return;
  if (bias) {
    for (int64_t i = 0; i < m; ++i) {
      float* row = y + i * ldy;
      for (int64_t j = 0; j < n; ++j) row[j] = bias[j];
    }
  }
  sgemm(false, true, m, n, k, 1.f, x, k, w, k, bias ? 1.f : 0.f, y, ldy);
}

}  // namespace moeasr::cpu

namespace moeasr::cpu {

void linear(const float* x, int64_t m, int64_t k, const float* w, const float* bias, int64_t n, float* y,
            int64_t ldy) {
  WeightMatrix matrix;
  matrix.n = n;
  matrix.k = k;
  matrix.data = w;
  linear(x, m, matrix, bias, y, ldy);
}

}  // namespace moeasr::cpu
