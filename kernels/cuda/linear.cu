// linear: y[rows, n] = x[rows, k] W^T + bias with cuBLAS.
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

__global__ void to_bf16_kernel(const float* x, int64_t n, __nv_bfloat16* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = __float2bfloat16_rn(x[i]);  // round to nearest even, as torch's .to(bfloat16)
  }
}

}  // namespace

void round_to_bf16(Context& ctx, const float* x, int64_t n, void* out) {
  if (n <= 0) return;
  to_bf16_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(x, n, static_cast<__nv_bfloat16*>(out));
  MOEASR_CUDA_CHECK_LAUNCH("to_bf16_kernel");
}

void add_bias_rows(Context& ctx, float* y, int64_t rows, int64_t n, const float* bias) {
  if (rows <= 0 || n <= 0 || !bias) return;
  add_bias_rows_kernel<<<grid_for(rows * n), kThreads, 0, stream_of(ctx)>>>(y, rows, n, bias);
  MOEASR_CUDA_CHECK_LAUNCH("add_bias_rows_kernel");
}

void gemm_xwt(Context& ctx, const void* x, WeightType type, int64_t rows, const void* w, int64_t n, int64_t k,
              float* y) {
  MOEASR_CHECK(rows <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, MOEASR_ERR_UNSUPPORTED,
               "CUDA linear: a dimension exceeds cuBLAS's 32-bit sizes (rows ", rows, ", n ", n, ", k ", k, ")");
  const float one = 1.f, zero = 0.f;
  const int m_ = static_cast<int>(n), n_ = static_cast<int>(rows), k_ = static_cast<int>(k);
  if (type == WeightType::kF32) {
    MOEASR_CUBLAS_CHECK(cublasSgemm(cublas_of(ctx), CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &one,
                                    static_cast<const float*>(w), k_, static_cast<const float*>(x), k_, &zero, y, m_));
  } else {
    MOEASR_CUBLAS_CHECK(cublasGemmEx(cublas_of(ctx), CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &one, w, CUDA_R_16BF,
                                     k_, x, CUDA_R_16BF, k_, &zero, y, CUDA_R_32F, m_, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
  }
}

void linear(Context& ctx, const float* x, int64_t rows, const DeviceLinear& w, float* y, Workspace& ws) {
  if (rows <= 0 || w.n <= 0) return;
  if (w.k == 0) {  // an empty reduction: y = bias (cuBLAS is not asked about k = 0)
    fill_zero(ctx, y, sizeof(float) * rows * w.n);
    add_bias_rows(ctx, y, rows, w.n, w.bias);
    return;
  }
  const void* a = x;
  if (w.type == WeightType::kBF16) {
    ws.bf16.reserve(ctx, sizeof(uint16_t) * rows * w.k);
    round_to_bf16(ctx, x, rows * w.k, ws.bf16.data());
    a = ws.bf16.data();
  }
  gemm_xwt(ctx, a, w.type, rows, w.weight, w.n, w.k, y);
  add_bias_rows(ctx, y, rows, w.n, w.bias);
}

}  // namespace moeasr::cuda
