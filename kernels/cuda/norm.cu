// layer_norm: one block per row, two-pass statistics (mean, then the mean of
// squared deviations) as kernels/cpu/norm.cc, for accuracy on large-mean rows.
// l2_normalize_rows: one block per row, the sum of squares in double as the CPU.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"

namespace moeasr::cuda {

namespace {

// y may alias x: every thread reads its elements of the row for the two
// reductions, and the block-wide barriers inside block_sum order all those
// reads before any write of the final loop, which touches only its own elements.
__global__ void layer_norm_kernel(const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta,
                                  float eps, float* y) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* in = x + r * d;
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) s += in[c];
    const float mean = block_sum(s, scratch) / static_cast<float>(d);
    float q = 0.f;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
      const float dev = in[c] - mean;
      q += dev * dev;
    }
    const float var = block_sum(q, scratch) / static_cast<float>(d);
    const float inv = 1.f / sqrtf(var + eps);
    float* out = y + r * d;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) out[c] = (in[c] - mean) * inv * gamma[c] + beta[c];
    __syncthreads();  // the next row's reads come after this row's writes (aliasing)
  }
}

// y may alias x: the reduction's barriers order every read before the writes.
__global__ void l2_normalize_kernel(const float* x, int64_t rows, int64_t d, float* y) {
  __shared__ double scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* in = x + r * d;
    double s = 0;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) s += static_cast<double>(in[c]) * in[c];
    // Block sum in double: warp shuffles, then the warps' partial sums.
    for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) scratch[warp] = s;
    __syncthreads();
    double total = 0;
    for (int w = 0; w < static_cast<int>((blockDim.x + 31) / 32); ++w) total += scratch[w];
    const float inv = 1.f / fmaxf(static_cast<float>(sqrt(total)), 1e-12f);  // F.normalize's eps
    float* out = y + r * d;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) out[c] = in[c] * inv;
    __syncthreads();  // scratch is rewritten by the next row
  }
}

}  // namespace

void l2_normalize_rows(Context& ctx, const float* x, int64_t rows, int64_t d, float* y) {
  if (rows <= 0 || d <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  l2_normalize_kernel<<<blocks, kThreads, 0, stream_of(ctx)>>>(x, rows, d, y);
  MOEASR_CUDA_CHECK_LAUNCH("l2_normalize_kernel");
}

void layer_norm(Context& ctx, const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta,
                float eps, float* y) {
  if (rows <= 0 || d <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  layer_norm_kernel<<<blocks, kThreads, 0, stream_of(ctx)>>>(x, rows, d, gamma, beta, eps, y);
  MOEASR_CUDA_CHECK_LAUNCH("layer_norm_kernel");
}

}  // namespace moeasr::cuda
