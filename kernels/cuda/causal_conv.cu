// causal_depthwise_conv: the Conformer conv module's depthwise convolution
// over [cache; frames] for many streams, then the cache update.
//
// Two launches on purpose: the output reads the OLD cache, so the cache may
// only be overwritten once every output is computed; stream order guarantees
// that the second kernel starts after the first has finished.
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

// Row `i` of in = [cache (kernel - 1 rows); frames].
__device__ __forceinline__ const float* input_row(const CausalConvJob& job, int64_t i, int64_t halo,
                                                  int64_t channels) {
  return i < halo ? job.cache + i * channels : job.frames + (i - halo) * channels;
}

// out[t, c] = bias[c] + sum_j w_t[j, c] * in[t + j, c], summed in the order of
// kernels/cpu/conv.cc (bias first, then j ascending).
__global__ void causal_conv_kernel(const CausalConvJob* jobs, int64_t num_jobs, int64_t channels, const float* w_t,
                                   const float* bias, int kernel) {
  const int64_t halo = kernel - 1;
  for (int64_t jb = blockIdx.y; jb < num_jobs; jb += gridDim.y) {
    const CausalConvJob job = jobs[jb];
    const int64_t n = static_cast<int64_t>(job.t) * channels;
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
      const int64_t t = i / channels, c = i - t * channels;
      float acc = bias ? bias[c] : 0.f;
      for (int j = 0; j < kernel; ++j) acc += w_t[j * channels + c] * input_row(job, t + j, halo, channels)[c];
      job.out[i] = acc;
    }
  }
}

// cache[r] = in[t + r] for r < kernel - 1 (the last kernel - 1 rows of in).
// When t < kernel - 1 some new rows come from the old cache itself, at a
// HIGHER row (t + r > r). One thread owns one channel of one job and walks r
// upwards, so row t + r is always read before anything writes it: in place
// without a race.
__global__ void causal_conv_cache_kernel(const CausalConvJob* jobs, int64_t num_jobs, int64_t channels, int kernel) {
  const int64_t halo = kernel - 1;
  for (int64_t jb = blockIdx.y; jb < num_jobs; jb += gridDim.y) {
    const CausalConvJob job = jobs[jb];
    for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < channels;
         c += int64_t{gridDim.x} * blockDim.x) {
      for (int64_t r = 0; r < halo; ++r) job.cache[r * channels + c] = input_row(job, job.t + r, halo, channels)[c];
    }
  }
}

}  // namespace

void causal_depthwise_conv(Context& ctx, const std::vector<CausalConvJob>& jobs, int64_t channels,
                           const float* w_t, const float* bias, int kernel, Workspace& ws) {
  MOEASR_CHECK(kernel >= 1, MOEASR_ERR_INVALID_ARGUMENT, "causal_depthwise_conv: kernel ", kernel, " < 1");
  if (jobs.empty() || channels <= 0) return;
  int64_t max_t = 0;
  for (const CausalConvJob& j : jobs) max_t = std::max<int64_t>(max_t, j.t);
  const CausalConvJob* d_jobs = upload_jobs(ctx, jobs, ws);
  const int64_t nj = static_cast<int64_t>(jobs.size());
  const unsigned gy = static_cast<unsigned>(nj < 65535 ? nj : 65535);
  cudaStream_t s = stream_of(ctx);
  if (max_t > 0) {
    const unsigned gx = std::min<unsigned>(grid_for(max_t * channels), 1024);
    causal_conv_kernel<<<dim3(gx, gy), kThreads, 0, s>>>(d_jobs, nj, channels, w_t, bias, kernel);
    MOEASR_CUDA_CHECK_LAUNCH("causal_conv_kernel");
  }
  if (kernel > 1) {
    causal_conv_cache_kernel<<<dim3(grid_for(channels), gy), kThreads, 0, s>>>(d_jobs, nj, channels, kernel);
    MOEASR_CUDA_CHECK_LAUNCH("causal_conv_cache_kernel");
  }
}

}  // namespace moeasr::cuda
