// rel_pos_attention and dot_product_attention, batched over jobs (streams or
// hypotheses) in one launch.
//
// One block per (query row, head); its 4 warps split the visible keys, and
// each warp keeps an online softmax (running max m, running sum l, and the
// running weighted sum of values acc, rescaled whenever m grows), so no score
// row is ever stored: full-attention lengths of thousands of frames need no
// scratch at all. The warps' partial results are merged at the end:
//   out = sum_w acc_w e^(m_w - M) / sum_w l_w e^(m_w - M),  M = max_w m_w,
// which is exactly softmax(scores) v (in float32; only the summation order
// differs from kernels/cpu/attention.cc). Masked keys are never visited, so
// their probability is exactly 0, as in WeNet.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"

namespace moeasr::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxDk = 256;
constexpr int kPerLane = kMaxDk / 32;

struct AttnJobDev {
  const float* q;
  float* out;
  const float* keys;
  const float* values;
  const float* positions;
  int64_t t, len;
  int64_t first;      // causal: the position of query 0
  int64_t row_begin;  // first query row of this job among all jobs' rows
};

__device__ int64_t find_job(const AttnJobDev* jobs, int64_t num_jobs, int64_t r) {
  int64_t lo = 0, hi = num_jobs - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (jobs[mid].row_begin <= r) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// kRelPos: scores = scale (q + u) k^T + scale (q + v) p^T; else scale q k^T.
template <bool kRelPos>
__global__ void __launch_bounds__(kWarps * 32)
attention_kernel(const AttnJobDev* jobs, int64_t num_jobs, int64_t total_rows, int64_t d, const float* pos_bias_u,
                 const float* pos_bias_v, int d_k, float scale, bool causal) {
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][kMaxDk];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int h = blockIdx.y;
  const int64_t col = static_cast<int64_t>(h) * d_k;

  for (int64_t r = blockIdx.x; r < total_rows; r += gridDim.x) {
    const AttnJobDev& job = jobs[find_job(jobs, num_jobs, r)];
    const int64_t i = r - job.row_begin;
    const int64_t seen = job.first + i + 1;
    const int64_t visible = causal ? (seen < job.len ? seen : job.len) : job.len;

    float qu[kPerLane], qv[kPerLane], acc[kPerLane];
    const float* qi = job.q + i * d + col;
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      const int c = lane + 32 * e;
      const float qc = c < d_k ? qi[c] : 0.f;
      qu[e] = c < d_k && kRelPos ? qc + pos_bias_u[col + c] : qc;
      qv[e] = c < d_k && kRelPos ? qc + pos_bias_v[col + c] : 0.f;
      acc[e] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int64_t j = warp; j < visible; j += kWarps) {  // warp-uniform loop: the shuffles see all lanes
      const float* kj = job.keys + j * d + col;
      float dot_k = 0.f, dot_p = 0.f;
#pragma unroll
      for (int e = 0; e < kPerLane; ++e) {
        const int c = lane + 32 * e;
        if (c < d_k) {
          dot_k += qu[e] * kj[c];
          if (kRelPos) dot_p += qv[e] * job.positions[j * d + col + c];
        }
      }
      dot_k = warp_sum(dot_k);
      const float s = kRelPos ? scale * dot_k + scale * warp_sum(dot_p) : scale * dot_k;
      const float m_new = fmaxf(m, s);
      const float correction = expf(m - m_new);  // 0 on the first key (m = -inf)
      const float p = expf(s - m_new);
      l = l * correction + p;
      const float* vj = job.values + j * d + col;
#pragma unroll
      for (int e = 0; e < kPerLane; ++e) {
        const int c = lane + 32 * e;
        if (c < d_k) acc[e] = acc[e] * correction + p * vj[c];
      }
      m = m_new;
    }
    if (lane == 0) {
      sm_m[warp] = m;
      sm_l[warp] = l;
    }
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      const int c = lane + 32 * e;
      if (c < d_k) sm_acc[warp][c] = acc[e];
    }
    __syncthreads();
    float max_m = -INFINITY;
    for (int w = 0; w < kWarps; ++w) max_m = fmaxf(max_m, sm_m[w]);
    float* out = job.out + i * d + col;
    for (int c = threadIdx.x; c < d_k; c += blockDim.x) {
      if (max_m == -INFINITY) {  // no visible key (len 0): the CPU's empty GEMM gives 0
        out[c] = 0.f;
        continue;
      }
      float num = 0.f, den = 0.f;
      for (int w = 0; w < kWarps; ++w) {
        if (sm_m[w] == -INFINITY) continue;  // a warp that saw no key
        const float f = expf(sm_m[w] - max_m);
        num += sm_acc[w][c] * f;
        den += sm_l[w] * f;
      }
      out[c] = num / den;
    }
    __syncthreads();  // the shared arrays are rewritten by the next row
  }
}

void launch_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, const float* pos_bias_u,
                      const float* pos_bias_v, int heads, int d_k, bool causal, bool rel_pos, Workspace& ws) {
  MOEASR_CHECK(d_k > 0 && d_k <= kMaxDk, MOEASR_ERR_UNSUPPORTED, "CUDA attention: d_k ", d_k, " is not in 1..",
               kMaxDk);
  MOEASR_CHECK(heads > 0 && static_cast<int64_t>(heads) * d_k <= d, MOEASR_ERR_INVALID_ARGUMENT,
               "CUDA attention: ", heads, " heads of ", d_k, " columns do not fit rows of width ", d);
  std::vector<AttnJobDev> table;
  int64_t total_rows = 0;
  for (const AttentionJob& j : jobs) {
    if (j.t <= 0) continue;
    table.push_back({j.q, j.out, j.keys, j.values, j.positions, j.t, j.len, j.first, total_rows});
    total_rows += j.t;
  }
  if (total_rows == 0) return;
  MOEASR_CHECK(heads <= 65535, MOEASR_ERR_UNSUPPORTED, "CUDA attention: ", heads, " heads");
  const AttnJobDev* d_jobs = upload_jobs(ctx, table, ws);
  const int64_t nj = static_cast<int64_t>(table.size());
  const float scale = 1.f / sqrtf(static_cast<float>(d_k));
  const dim3 grid(static_cast<unsigned>(total_rows < 65535 ? total_rows : 65535), static_cast<unsigned>(heads));
  if (rel_pos) {
    attention_kernel<true><<<grid, kWarps * 32, 0, stream_of(ctx)>>>(d_jobs, nj, total_rows, d, pos_bias_u,
                                                                     pos_bias_v, d_k, scale, causal);
  } else {
    attention_kernel<false><<<grid, kWarps * 32, 0, stream_of(ctx)>>>(d_jobs, nj, total_rows, d, nullptr, nullptr,
                                                                      d_k, scale, causal);
  }
  MOEASR_CUDA_CHECK_LAUNCH("attention_kernel");
}

}  // namespace

void rel_pos_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, const float* pos_bias_u,
                       const float* pos_bias_v, int heads, int d_k, Workspace& ws) {
  launch_attention(ctx, jobs, d, pos_bias_u, pos_bias_v, heads, d_k, /*causal=*/false, /*rel_pos=*/true, ws);
}

void dot_product_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k,
                           bool causal, Workspace& ws) {
  launch_attention(ctx, jobs, d, nullptr, nullptr, heads, d_k, causal, /*rel_pos=*/false, ws);
}

}  // namespace moeasr::cuda
