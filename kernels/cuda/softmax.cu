// log_softmax_rows: one block per row, (x - max) - log(sum(exp(x - max))) as
// kernels/cpu/softmax.cc, in float32.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"

namespace moeasr::cuda {

namespace {

__global__ void log_softmax_rows_kernel(float* x, int64_t rows, int64_t cols) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = x + r * cols;
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, row[c]);
    const float max = block_max(m, scratch);
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(row[c] - max);
    const float log_sum = logf(block_sum(s, scratch));
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row[c] = (row[c] - max) - log_sum;
  }
}

}  // namespace

void log_softmax_rows(Context& ctx, float* x, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  // Vocabularies are thousands wide: 512 threads keep each row's three passes short.
  log_softmax_rows_kernel<<<blocks, 512, 0, stream_of(ctx)>>>(x, rows, cols);
  MOEASR_CUDA_CHECK_LAUNCH("log_softmax_rows_kernel");
}

}  // namespace moeasr::cuda
