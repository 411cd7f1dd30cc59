// linear: y[rows, n] = x[rows, k] W^T + bias, and gemm, with cuBLAS.
//
// cuBLAS is column-major. A row-major matrix M[r, c] is, read column-major,
// the matrix M^T [c, r] with leading dimension c. So, column-major:
//   x (row-major [rows, k]) is X^T [k, rows], ld k
//   W (row-major [n, k])    is W^T [k, n],    ld k
//   y (row-major [rows, n]) is Y^T [n, rows], ld n
// and y = x W^T  <=>  Y^T = W X^T = op_T(W^T) * op_N(X^T):
//   gemm(transa = T, transb = N, m = n, n = rows, k = k, A = W (lda k), B = x (ldb k), C = y (ldc n)).
// The bias is added afterwards by a broadcast kernel (beta = 0 in the GEMM).
#include <cuda_bf16.h>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/linear_impl.h"

namespace moeasr::cuda {

namespace {

__global__ void add_bias_rows_kernel(float* y, int64_t rows, int64_t n, const float* bias) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += bias[i % n];
  }
}

__global__ void split_bf16_kernel(const float* x, int64_t n, __nv_bfloat16* hi, __nv_bfloat16* lo) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const __nv_bfloat16 h = __float2bfloat16_rn(x[i]);  // round to nearest even, as torch's .to(bfloat16)
    hi[i] = h;
    lo[i] = __float2bfloat16_rn(x[i] - __bfloat162float(h));
  }
}

}  // namespace

void split_bf16(Context& ctx, const float* x, int64_t n, void* hi, void* lo) {
  if (n <= 0) return;
  split_bf16_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(x, n, static_cast<__nv_bfloat16*>(hi),
                                                                   static_cast<__nv_bfloat16*>(lo));
  MOEASR_CUDA_CHECK_LAUNCH("split_bf16_kernel");
}

void add_bias_rows(Context& ctx, float* y, int64_t rows, int64_t n, const float* bias) {
  if (rows <= 0 || n <= 0 || !bias) return;
  add_bias_rows_kernel<<<grid_for(rows * n), kThreads, 0, stream_of(ctx)>>>(y, rows, n, bias);
  MOEASR_CUDA_CHECK_LAUNCH("add_bias_rows_kernel");
}

void gemm_xwt(Context& ctx, const void* x, WeightType type, int64_t rows, const void* w, int64_t n, int64_t k,
              float* y, float beta) {
  MOEASR_CHECK(rows <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, MOEASR_ERR_UNSUPPORTED,
               "CUDA linear: a dimension exceeds cuBLAS's 32-bit sizes (rows ", rows, ", n ", n, ", k ", k, ")");
  const float one = 1.f;
  const int m_ = static_cast<int>(n), n_ = static_cast<int>(rows), k_ = static_cast<int>(k);
  if (type == WeightType::kF32) {
    MOEASR_CUBLAS_CHECK(cublasSgemm(cublas_of(ctx), CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &one,
                                    static_cast<const float*>(w), k_, static_cast<const float*>(x), k_, &beta, y, m_));
  } else {
    MOEASR_CUBLAS_CHECK(cublasGemmEx(cublas_of(ctx), CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &one, w, CUDA_R_16BF,
                                     k_, x, CUDA_R_16BF, k_, &beta, y, CUDA_R_32F, m_, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
  }
}

void linear(Context& ctx, const float* x, int64_t rows, const WeightMatrix& w, const float* bias, float* y,
            Workspace& ws) {
  MOEASR_CHECK(w.type == WeightType::kF32 || w.type == WeightType::kBF16, MOEASR_ERR_UNSUPPORTED, "CUDA linear: ",
               weight_type_name(w.type), " weights have no CUDA kernel (use float32 or bfloat16)");
  if (rows <= 0 || w.n <= 0) return;
  if (w.k == 0) {  // an empty reduction: y = bias (cuBLAS is not asked about k = 0)
    fill_zero(ctx, y, sizeof(float) * rows * w.n);
    add_bias_rows(ctx, y, rows, w.n, bias);
    return;
  }
  if (w.type == WeightType::kBF16) {
    // y = W hi + W lo: the activations keep float32's precision (split_bf16).
    ws.bf16.reserve(ctx, 2 * sizeof(uint16_t) * rows * w.k);
    uint16_t* hi = ws.bf16.as<uint16_t>();
    uint16_t* lo = hi + rows * w.k;
    split_bf16(ctx, x, rows * w.k, hi, lo);
    gemm_xwt(ctx, hi, w.type, rows, w.data, w.n, w.k, y);
    gemm_xwt(ctx, lo, w.type, rows, w.data, w.n, w.k, y, 1.f);
  } else {
    gemm_xwt(ctx, x, w.type, rows, w.data, w.n, w.k, y);
  }
  add_bias_rows(ctx, y, rows, w.n, bias);
}

// Row-major C [m, n] = op(A) op(B) is, read column-major, C^T = op(B)^T op(A)^T:
// cuBLAS gets B first, with the same transpose flags and leading dimensions.
void gemm(Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch,
          int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  MOEASR_CHECK(k > 0, MOEASR_ERR_INTERNAL, "CUDA gemm: empty reduction (k = 0)");
  MOEASR_CHECK(m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX && lda <= INT32_MAX && ldb <= INT32_MAX &&
                   ldc <= INT32_MAX && batch <= INT32_MAX,
               MOEASR_ERR_UNSUPPORTED, "CUDA gemm: a dimension exceeds cuBLAS's 32-bit sizes");
  const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m_ = static_cast<int>(n), n_ = static_cast<int>(m), k_ = static_cast<int>(k);
  if (batch == 1) {
    MOEASR_CUBLAS_CHECK(cublasSgemm(cublas_of(ctx), tb, ta, m_, n_, k_, &alpha, b, static_cast<int>(ldb), a,
                                    static_cast<int>(lda), &beta, c, static_cast<int>(ldc)));
    return;
  }
  MOEASR_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_of(ctx), tb, ta, m_, n_, k_, &alpha, b, static_cast<int>(ldb),
                                                stride_b, a, static_cast<int>(lda), stride_a, &beta, c,
                                                static_cast<int>(ldc), stride_c, static_cast<int>(batch)));
}

}  // namespace moeasr::cuda
