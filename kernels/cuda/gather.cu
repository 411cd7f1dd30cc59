// Index-driven reads: embedding (rows of a table by token id) and
// gather_columns (one value per row at a per-row column). Indices live on the
// device; they are not range-checked here (the model checks token ids on the
// host before uploading them).
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

__global__ void embedding_kernel(const float* table, const int32_t* ids, int64_t n, int64_t d, float s, float* out) {
  const int64_t total = n * d;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = i / d, col = i - row * d;
    out[i] = table[static_cast<int64_t>(ids[row]) * d + col] * s;
  }
}

__global__ void gather_columns_kernel(const float* x, int64_t rows, int64_t ld, const int32_t* cols, float* out) {
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows; r += int64_t{gridDim.x} * blockDim.x) {
    out[r] = x[r * ld + cols[r]];
  }
}

}  // namespace

void embedding(Context& ctx, const float* table, const int32_t* ids, int64_t n, int64_t d, float s, float* out) {
  if (n <= 0 || d <= 0) return;
  embedding_kernel<<<grid_for(n * d), kThreads, 0, stream_of(ctx)>>>(table, ids, n, d, s, out);
  MOEASR_CUDA_CHECK_LAUNCH("embedding_kernel");
}

void gather_columns(Context& ctx, const float* x, int64_t rows, int64_t ld, const int32_t* cols, float* out) {
  if (rows <= 0) return;
  gather_columns_kernel<<<grid_for(rows), kThreads, 0, stream_of(ctx)>>>(x, rows, ld, cols, out);
  MOEASR_CUDA_CHECK_LAUNCH("gather_columns_kernel");
}

}  // namespace moeasr::cuda
