// position_encoding: WeNet's sinusoid rows for the positions of each job, with
// the CPU's rounding steps (a float32 angle, sin and cos in double, rounded
// to float32), so the device and the host agree but for the last ulp of the
// double-precision sin/cos. blockIdx.y walks the jobs.
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

__global__ void position_kernel(const float* div, int64_t half, const PositionJob* jobs, int64_t num_jobs) {
  for (int64_t j = blockIdx.y; j < num_jobs; j += gridDim.y) {
    const PositionJob job = jobs[j];
    const int64_t n = static_cast<int64_t>(job.count) * half;
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
      const int64_t r = i / half, c = i - r * half;
      const float angle = static_cast<float>(job.first + r) * div[c];  // float32 product, as torch computes it
      job.dst[r * 2 * half + 2 * c] = static_cast<float>(sin(static_cast<double>(angle)));
      job.dst[r * 2 * half + 2 * c + 1] = static_cast<float>(cos(static_cast<double>(angle)));
    }
  }
}

}  // namespace

void position_encoding(Context& ctx, const float* div, int64_t d, const std::vector<PositionJob>& jobs,
                       Workspace& ws) {
  int64_t most = 0;
  for (const PositionJob& j : jobs) most = std::max<int64_t>(most, j.count);
  if (jobs.empty() || most <= 0 || d <= 1) return;
  const int64_t half = d / 2;
  const PositionJob* d_jobs = upload_jobs(ctx, jobs, ws);
  const int64_t nj = static_cast<int64_t>(jobs.size());
  const dim3 grid(std::min<unsigned>(grid_for(most * half), 1024), static_cast<unsigned>(nj < 65535 ? nj : 65535));
  position_kernel<<<grid, kThreads, 0, stream_of(ctx)>>>(div, half, d_jobs, nj);
  MOEASR_CUDA_CHECK_LAUNCH("position_kernel");
}

}  // namespace moeasr::cuda
