// depthwise_conv: the Conformer conv module's depthwise convolution over
// [cache or zeros; frames; zeros] for many streams (DepthwiseConvJob), then
// the cache update of the jobs that have a cache.
//
// Two launches on purpose: the output reads the OLD cache, so the cache may
// only be overwritten once every output is computed; stream order guarantees
// that the second kernel starts after the first has finished.
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

// Row `i` of in = [cache or zeros (kernel - 1 rows); frames (t rows); zeros],
// or null for a zero row.
__device__ __forceinline__ const float* input_row(const DepthwiseConvJob& job, int64_t i, int64_t halo,
                                                  int64_t channels) {
  if (i < halo) return job.cache ? job.cache + i * channels : nullptr;
  return i - halo < job.t ? job.frames + (i - halo) * channels : nullptr;
}

// out[i, c] = bias[c] + sum_j w_t[j, c] * in[skip + i + j, c], summed in the
// order of kernels/cpu/conv.cc (bias first, then j ascending; a zero row adds
// nothing, as the CPU's zero padding adds +0).
__global__ void depthwise_conv_kernel(const DepthwiseConvJob* jobs, int64_t num_jobs, int64_t channels,
                                      const float* w_t, const float* bias, int kernel) {
  const int64_t halo = kernel - 1;
  for (int64_t jb = blockIdx.y; jb < num_jobs; jb += gridDim.y) {
    const DepthwiseConvJob job = jobs[jb];
    const int64_t rows = static_cast<int64_t>(job.t) + job.right_zeros - job.skip;
    const int64_t n = (rows > 0 ? rows : 0) * channels;
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
      const int64_t t = i / channels, c = i - t * channels;
      float acc = bias ? bias[c] : 0.f;
      for (int j = 0; j < kernel; ++j) {
        const float* in = input_row(job, job.skip + t + j, halo, channels);
        acc += w_t[j * channels + c] * (in ? in[c] : 0.f);
      }
      job.out[i] = acc;
    }
  }
}

// cache[r] = in[t + r] for r < kernel - 1 (the last kernel - 1 rows of
// [cache; frames]). When t < kernel - 1 some new rows come from the old cache
// itself, at a HIGHER row (t + r > r). One thread owns one channel of one job
// and walks r upwards, so row t + r is always read before anything writes it:
// in place without a race.
__global__ void depthwise_conv_cache_kernel(const DepthwiseConvJob* jobs, int64_t num_jobs, int64_t channels,
                                            int kernel) {
  const int64_t halo = kernel - 1;
  for (int64_t jb = blockIdx.y; jb < num_jobs; jb += gridDim.y) {
    const DepthwiseConvJob job = jobs[jb];
    if (!job.cache) continue;
    for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < channels;
         c += int64_t{gridDim.x} * blockDim.x) {
      for (int64_t r = 0; r < halo; ++r) job.cache[r * channels + c] = input_row(job, job.t + r, halo, channels)[c];
    }
  }
}

}  // namespace

void depthwise_conv(Context& ctx, const std::vector<DepthwiseConvJob>& jobs, int64_t channels, const float* w_t,
                    const float* bias, int kernel, Workspace& ws) {
  MOEASR_CHECK(kernel >= 1, MOEASR_ERR_INVALID_ARGUMENT, "depthwise_conv: kernel ", kernel, " < 1");
  if (jobs.empty() || channels <= 0) return;
  int64_t max_rows = 0;
  bool caches = false;
  for (const DepthwiseConvJob& j : jobs) {
    max_rows = std::max<int64_t>(max_rows, static_cast<int64_t>(j.t) + j.right_zeros - j.skip);
    caches = caches || j.cache;
  }
  const DepthwiseConvJob* d_jobs = upload_jobs(ctx, jobs, ws);
  const int64_t nj = static_cast<int64_t>(jobs.size());
  const unsigned gy = static_cast<unsigned>(nj < 65535 ? nj : 65535);
  cudaStream_t s = stream_of(ctx);
  if (max_rows > 0) {
    const unsigned gx = std::min<unsigned>(grid_for(max_rows * channels), 1024);
    depthwise_conv_kernel<<<dim3(gx, gy), kThreads, 0, s>>>(d_jobs, nj, channels, w_t, bias, kernel);
    MOEASR_CUDA_CHECK_LAUNCH("depthwise_conv_kernel");
  }
  if (kernel > 1 && caches) {
    depthwise_conv_cache_kernel<<<dim3(grid_for(channels), gy), kThreads, 0, s>>>(d_jobs, nj, channels, kernel);
    MOEASR_CUDA_CHECK_LAUNCH("depthwise_conv_cache_kernel");
  }
}

}  // namespace moeasr::cuda
