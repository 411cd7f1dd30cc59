// copy_rows: many small row-block copies (cache appends, stream gathers) in
// one launch instead of one cudaMemcpyAsync each. blockIdx.y walks the jobs,
// x threads walk one job's rows * width floats.
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

__global__ void copy_rows_kernel(const RowCopy* jobs, int64_t num_jobs, int64_t width) {
  for (int64_t j = blockIdx.y; j < num_jobs; j += gridDim.y) {
    const RowCopy job = jobs[j];
    const int64_t n = static_cast<int64_t>(job.rows) * width;
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
      job.dst[i] = job.src[i];
    }
  }
}

}  // namespace

void copy_rows(Context& ctx, const std::vector<RowCopy>& jobs, int64_t width, Workspace& ws) {
  int64_t max_elems = 0;
  for (const RowCopy& j : jobs) max_elems = std::max<int64_t>(max_elems, static_cast<int64_t>(j.rows) * width);
  if (jobs.empty() || max_elems <= 0) return;
  const RowCopy* d_jobs = upload_jobs(ctx, jobs, ws);
  const int64_t nj = static_cast<int64_t>(jobs.size());
  const dim3 grid(grid_for(max_elems) < 1024 ? grid_for(max_elems) : 1024, static_cast<unsigned>(nj < 65535 ? nj : 65535));
  copy_rows_kernel<<<grid, kThreads, 0, stream_of(ctx)>>>(d_jobs, nj, width);
  MOEASR_CUDA_CHECK_LAUNCH("copy_rows_kernel");
}

}  // namespace moeasr::cuda
