#include "kernels/cpu/gemm.h"

#if MOEASR_HAVE_ONEDNN
#include <dnnl.h>
#else
#include <Eigen/Core>
#endif

#include "core/error.h"
#include "kernels/cpu/linear.h"

namespace moeasr::cpu {

namespace {

#if !MOEASR_HAVE_ONEDNN
// Without oneDNN (MOEASR_WITH_ONEDNN=OFF, the default off x86-64): Eigen's
// GEMM, which has NEON and SSE/AVX paths and uses the OpenMP threads.
using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;

template <typename A, typename B>
void accumulate(Map& c, float alpha, const A& a, const B& b) {
  c.noalias() += alpha * (a * b);
}

void eigen_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  Map cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == 0.f) {
    cm.setZero();
  } else if (beta != 1.f) {
    cm *= beta;
  }
  const ConstMap am(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  const ConstMap bm(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (trans_a && trans_b) {
    accumulate(cm, alpha, am.transpose(), bm.transpose());
  } else if (trans_a) {
    accumulate(cm, alpha, am.transpose(), bm);
  } else if (trans_b) {
    accumulate(cm, alpha, am, bm.transpose());
  } else {
    accumulate(cm, alpha, am, bm);
  }
}
#endif

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // oneDNN rejects K = 0; the product is empty
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    }
    return;
  }
#if MOEASR_HAVE_ONEDNN
  dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  MOEASR_CHECK(s == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN sgemm failed (status ", static_cast<int>(s), ") for m=",
               m, " n=", n, " k=", k);
#else
  eigen_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
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
