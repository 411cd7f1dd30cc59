// conv2d_3x3_s2_relu for many inputs at once: the im2col rows of every job go
// into one matrix, one GEMM multiplies them by the [9 * c_in, c_out] weight,
// and a last kernel adds the bias, applies ReLU and writes each job's rows to
// its own output. Three launches however many streams there are.
//
// GEMM, row-major: C[rows, c_out] = A[rows, 9 c_in] * B[9 c_in, c_out]. Read
// column-major (see linear.cu), that is C^T = B^T A^T with B^T = weight as
// stored (ld c_out) and A^T = im2col as stored (ld 9 c_in): no transposes.
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

struct ConvJobDev {
  const float* in;
  float* out;
  int64_t t_in;
  int64_t row_begin;  // first row of this job in the stacked im2col matrix
  int64_t rows;       // t_out * f_out
};

// The job whose rows contain global row r (jobs sorted by row_begin).
__device__ int64_t find_job(const ConvJobDev* jobs, int64_t num_jobs, int64_t r) {
  int64_t lo = 0, hi = num_jobs - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (jobs[mid].row_begin <= r) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// One block per im2col row (output position), threads over the 9 * c_in patch.
__global__ void im2col_kernel(const ConvJobDev* jobs, int64_t num_jobs, int64_t total_rows, int64_t f_in,
                              int64_t f_out, int64_t c_in, float* cols) {
  const int64_t patch = 9 * c_in;
  for (int64_t r = blockIdx.x; r < total_rows; r += gridDim.x) {
    const ConvJobDev& job = jobs[find_job(jobs, num_jobs, r)];
    const int64_t local = r - job.row_begin;
    const int64_t t = local / f_out, f = local - t * f_out;
    float* row = cols + r * patch;
    for (int64_t p = threadIdx.x; p < patch; p += blockDim.x) {
      const int64_t kk = p / c_in, ci = p - kk * c_in;  // kk = kt * 3 + kf
      const int64_t kt = kk / 3, kf = kk - kt * 3;
      row[p] = job.in[((2 * t + kt) * f_in + (2 * f + kf)) * c_in + ci];
    }
  }
}

__global__ void bias_relu_scatter_kernel(const ConvJobDev* jobs, int64_t num_jobs, int64_t total_rows,
                                         const float* gemm_out, const float* bias, int64_t c_out) {
  for (int64_t r = blockIdx.x; r < total_rows; r += gridDim.x) {
    const ConvJobDev& job = jobs[find_job(jobs, num_jobs, r)];
    float* out = job.out + (r - job.row_begin) * c_out;
    const float* in = gemm_out + r * c_out;
    for (int64_t c = threadIdx.x; c < c_out; c += blockDim.x) out[c] = fmaxf(in[c] + bias[c], 0.f);
  }
}

}  // namespace

void conv2d_3x3_s2_relu(Context& ctx, const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in,
                        const float* weight, const float* bias, int64_t c_out, Workspace& ws) {
  const int64_t f_out = (f_in - 3) / 2 + 1;
  if (jobs.empty() || f_in < 3 || c_in <= 0 || c_out <= 0) return;
  // Jobs too short for one output frame produce nothing (as kernels/cpu/conv.cc).
  std::vector<ConvJobDev> table;
  int64_t total_rows = 0;
  for (const Conv2dJob& j : jobs) {
    if (j.t_in < 3) continue;
    const int64_t t_out = (j.t_in - 3) / 2 + 1;
    table.push_back({j.in, j.out, j.t_in, total_rows, t_out * f_out});
    total_rows += t_out * f_out;
  }
  if (total_rows == 0) return;
  const int64_t patch = 9 * c_in;
  MOEASR_CHECK(total_rows <= INT32_MAX && patch <= INT32_MAX && c_out <= INT32_MAX, MOEASR_ERR_UNSUPPORTED,
               "CUDA conv2d: too many output positions for one GEMM (", total_rows, ")");
  ws.a.reserve(ctx, sizeof(float) * total_rows * patch);
  ws.b.reserve(ctx, sizeof(float) * total_rows * c_out);
  const ConvJobDev* d_jobs = upload_jobs(ctx, table, ws);
  const int64_t nj = static_cast<int64_t>(table.size());
  const unsigned blocks = static_cast<unsigned>(total_rows < 65535 ? total_rows : 65535);
  cudaStream_t s = stream_of(ctx);

  im2col_kernel<<<blocks, 128, 0, s>>>(d_jobs, nj, total_rows, f_in, f_out, c_in, ws.a.as<float>());
  MOEASR_CUDA_CHECK_LAUNCH("im2col_kernel");
  const float one = 1.f, zero = 0.f;
  MOEASR_CUBLAS_CHECK(cublasSgemm(cublas_of(ctx), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(c_out),
                                  static_cast<int>(total_rows), static_cast<int>(patch), &one, weight,
                                  static_cast<int>(c_out), ws.a.as<float>(), static_cast<int>(patch), &zero,
                                  ws.b.as<float>(), static_cast<int>(c_out)));
  bias_relu_scatter_kernel<<<blocks, 128, 0, s>>>(d_jobs, nj, total_rows, ws.b.as<float>(), bias, c_out);
  MOEASR_CUDA_CHECK_LAUNCH("bias_relu_scatter_kernel");
}

}  // namespace moeasr::cuda
