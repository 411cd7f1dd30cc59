// Index-driven copies: embedding (rows of a table by token id), gather_rows /
// scatter_rows (rows by an index list, -1 = none) and gather_elements (one
// value per (row, column) pair). The index lists come from the host and go up
// through the workspace's job buffer; they are not range-checked here (the
// model checks token ids and row tables on the host).
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

__global__ void gather_rows_kernel(const float* src, int64_t width, const int32_t* rows, int64_t n, float fill,
                                   float* dst) {
  const int64_t total = n * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = i / width, col = i - row * width;
    const int32_t from = rows[row];
    dst[i] = from >= 0 ? src[static_cast<int64_t>(from) * width + col] : fill;
  }
}

__global__ void scatter_rows_kernel(const float* src, int64_t width, const int32_t* rows, int64_t n, float* dst) {
  const int64_t total = n * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = i / width, col = i - row * width;
    const int32_t to = rows[row];
    if (to >= 0) dst[static_cast<int64_t>(to) * width + col] = src[i];
  }
}

struct Element {
  int64_t row;
  int64_t col;
};

__global__ void gather_elements_kernel(const float* x, int64_t ld, const Element* at, int64_t n, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = x[at[i].row * ld + at[i].col];
  }
}

}  // namespace

void embedding(Context& ctx, const float* table, int64_t d, const std::vector<int32_t>& ids, float s, float* out,
               Workspace& ws) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n <= 0 || d <= 0) return;
  const int32_t* d_ids = upload_jobs(ctx, ids, ws);
  embedding_kernel<<<grid_for(n * d), kThreads, 0, stream_of(ctx)>>>(table, d_ids, n, d, s, out);
  MOEASR_CUDA_CHECK_LAUNCH("embedding_kernel");
}

void gather_rows(Context& ctx, const float* src, int64_t width, const std::vector<int32_t>& rows, float fill,
                 float* dst, Workspace& ws) {
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n <= 0 || width <= 0) return;
  const int32_t* d_rows = upload_jobs(ctx, rows, ws);
  gather_rows_kernel<<<grid_for(n * width), kThreads, 0, stream_of(ctx)>>>(src, width, d_rows, n, fill, dst);
  MOEASR_CUDA_CHECK_LAUNCH("gather_rows_kernel");
}

void scatter_rows(Context& ctx, const float* src, int64_t width, const std::vector<int32_t>& rows, float* dst,
                  Workspace& ws) {
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n <= 0 || width <= 0) return;
  const int32_t* d_rows = upload_jobs(ctx, rows, ws);
  scatter_rows_kernel<<<grid_for(n * width), kThreads, 0, stream_of(ctx)>>>(src, width, d_rows, n, dst);
  MOEASR_CUDA_CHECK_LAUNCH("scatter_rows_kernel");
}

void gather_elements(Context& ctx, const float* x, int64_t ld, const std::vector<int64_t>& rows,
                     const std::vector<int32_t>& cols, float* out, Workspace& ws) {
  MOEASR_CHECK(rows.size() == cols.size(), MOEASR_ERR_INTERNAL, "gather_elements: ", rows.size(), " rows, ",
               cols.size(), " columns");
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n <= 0) return;
  std::vector<Element> at(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) at[i] = {rows[i], cols[i]};
  const Element* d_at = upload_jobs(ctx, at, ws);
  gather_elements_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(x, ld, d_at, n, out);
  MOEASR_CUDA_CHECK_LAUNCH("gather_elements_kernel");
}

}  // namespace moeasr::cuda
