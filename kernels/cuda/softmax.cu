// softmax_rows and log_softmax_rows: one block per row, as kernels/cpu/softmax.cc
// in float32. softmax_segments: one thread per (segment, column), walking the
// segment's rows (a chunk's or a token group's, short).
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"

namespace moeasr::cuda {

namespace {

// kLog: (x - max) - log(sum(exp(x - max))); else exp(x - max) / sum.
template <bool kLog>
__global__ void softmax_rows_kernel(float* x, int64_t rows, int64_t cols) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = x + r * cols;
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, row[c]);
    const float max = block_max(m, scratch);
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(row[c] - max);
    const float sum = block_sum(s, scratch);
    if (kLog) {
      const float log_sum = logf(sum);
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row[c] = (row[c] - max) - log_sum;
    } else {
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row[c] = expf(row[c] - max) / sum;
    }
  }
}

__global__ void softmax_segments_kernel(float* x, int64_t cols, const int64_t* offsets, int64_t segments,
                                        float temperature) {
  const int64_t n = segments * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t seg = i / cols, col = i - seg * cols;
    const int64_t begin = offsets[seg], end = offsets[seg + 1];
    float top = -INFINITY;
    for (int64_t r = begin; r < end; ++r) top = fmaxf(top, x[r * cols + col]);
    if (top == -INFINITY) {  // every row masked: nothing to weigh
      for (int64_t r = begin; r < end; ++r) x[r * cols + col] = 0.f;
      continue;
    }
    float sum = 0.f;
    for (int64_t r = begin; r < end; ++r) {
      const float e = expf((x[r * cols + col] - top) / temperature);
      x[r * cols + col] = e;
      sum += e;
    }
    for (int64_t r = begin; r < end; ++r) x[r * cols + col] /= sum;
  }
}

}  // namespace

void softmax_rows(Context& ctx, float* x, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  softmax_rows_kernel<false><<<blocks, kThreads, 0, stream_of(ctx)>>>(x, rows, cols);
  MOEASR_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
}

void softmax_segments(Context& ctx, float* x, int64_t cols, const std::vector<int64_t>& offsets, float temperature,
                      Workspace& ws) {
  const int64_t segments = static_cast<int64_t>(offsets.size()) - 1;
  if (segments <= 0 || cols <= 0) return;
  const int64_t* d_offsets = upload_jobs(ctx, offsets, ws);
  softmax_segments_kernel<<<grid_for(segments * cols), kThreads, 0, stream_of(ctx)>>>(x, cols, d_offsets, segments,
                                                                                      temperature);
  MOEASR_CUDA_CHECK_LAUNCH("softmax_segments_kernel");
}

void log_softmax_rows(Context& ctx, float* x, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  // Vocabularies are thousands wide: 512 threads keep each row's three passes short.
  softmax_rows_kernel<true><<<blocks, 512, 0, stream_of(ctx)>>>(x, rows, cols);
  MOEASR_CUDA_CHECK_LAUNCH("log_softmax_rows_kernel");
}

}  // namespace moeasr::cuda
