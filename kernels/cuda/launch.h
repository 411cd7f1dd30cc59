// Internal to kernels/cuda: grid sizes and job tables shared by the .cu files.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/ops.h"

namespace moeasr::cuda {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements: enough to fill the GPU,
// capped so the grid size fits easily (the loop covers the rest). n > 0.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

// Uploads `jobs` (trivially copyable structs) into ws.jobs through the host
// staging vector and returns the device copy. The upload is stream-ordered,
// and ws.host_jobs stays untouched until the next call, so the copy may still
// be in flight when this returns (cudaMemcpyAsync from pageable memory is
// staged by the driver before returning anyway).
template <typename Job>
const Job* upload_jobs(Context& ctx, const std::vector<Job>& jobs, Workspace& ws) {
  const size_t bytes = sizeof(Job) * jobs.size();
  ws.host_jobs.resize(bytes);
  std::memcpy(ws.host_jobs.data(), jobs.data(), bytes);
  ws.jobs.reserve(ctx, bytes);
  upload(ctx, ws.jobs.data(), ws.host_jobs.data(), bytes);
  return ws.jobs.as<const Job>();
}

}  // namespace moeasr::cuda
