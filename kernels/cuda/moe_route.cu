// moe_ffn's routing, grouping and combining kernels.
//
// Grouping is a counting sort on the device: counts by atomics, an exclusive
// scan of the E counts, then every slot takes the next row of its expert with
// an atomic cursor. The order of rows WITHIN an expert therefore varies from
// run to run; that cannot change any result: each grouped row's GEMM output
// depends only on that row (same reduction order whatever its position), and
// moe_combine sums a token's k expert outputs in ascending expert order, the
// order of kernels/cpu/moe.cc, independent of where the rows landed.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/moe_impl.h"

namespace moeasr::cuda {

namespace {

// One thread per token: E is small (tens), so a selection over the logits
// row is simpler than any sort and exact about ties (strict > keeps the
// lower expert id).
__global__ void moe_topk_softmax_kernel(const float* logits, int64_t n, int num_experts, int top_k,
                                        int32_t* slot_expert, float* slot_weight, int32_t* counts) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const float* l = logits + t * num_experts;
    int32_t chosen[kMaxTopK];
    for (int j = 0; j < top_k; ++j) {
      int best = -1;
      for (int e = 0; e < num_experts; ++e) {
        bool taken = false;
        for (int q = 0; q < j; ++q) taken |= chosen[q] == e;
        if (!taken && (best < 0 || l[e] > l[best])) best = e;
      }
      chosen[j] = best;
    }
    // Softmax over the k chosen logits (float32, as WeNet).
    const float top = l[chosen[0]];
    float sum = 0.f;
    for (int j = 0; j < top_k; ++j) sum += expf(l[chosen[j]] - top);
    for (int j = 0; j < top_k; ++j) {
      slot_expert[t * top_k + j] = chosen[j];
      slot_weight[t * top_k + j] = expf(l[chosen[j]] - top) / sum;
      atomicAdd(counts + chosen[j], 1);
    }
  }
}

// E is tens: one thread scans (a launch, not a host round trip).
__global__ void moe_offsets_kernel(const int32_t* counts, int num_experts, int32_t* offsets, int32_t* cursor) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  int32_t acc = 0;
  for (int e = 0; e < num_experts; ++e) {
    offsets[e] = acc;
    cursor[e] = acc;
    acc += counts[e];
  }
  offsets[num_experts] = acc;
}

__global__ void moe_assign_rows_kernel(const int32_t* slot_expert, int64_t slots, int32_t* cursor, int32_t* slot_row,
                                       int32_t* row_slot) {
  for (int64_t s = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; s < slots; s += int64_t{gridDim.x} * blockDim.x) {
    const int32_t row = atomicAdd(cursor + slot_expert[s], 1);
    slot_row[s] = row;
    row_slot[row] = static_cast<int32_t>(s);
  }
}

// One block per grouped row: copy its token's x row.
__global__ void moe_gather_kernel(const float* x, int64_t rows, int64_t d, int top_k, const int32_t* row_slot,
                                  float* gathered) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* src = x + static_cast<int64_t>(row_slot[r] / top_k) * d;
    float* dst = gathered + r * d;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) dst[c] = src[c];
  }
}

// One block per token; every thread walks the token's k slots in ascending
// expert order (the k experts of a token are distinct, so "smallest expert
// above the last one" enumerates them).
__global__ void moe_combine_kernel(int64_t n, int64_t d, int top_k, const int32_t* slot_expert,
                                   const float* slot_weight, const int32_t* slot_row, const float* expert_out,
                                   float* y) {
  for (int64_t t = blockIdx.x; t < n; t += gridDim.x) {
    const int32_t* ex = slot_expert + t * top_k;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
      float acc = 0.f;
      int last = -1;
      for (int step = 0; step < top_k; ++step) {
        int j_min = -1;
        for (int j = 0; j < top_k; ++j) {
          if (ex[j] > last && (j_min < 0 || ex[j] < ex[j_min])) j_min = j;
        }
        last = ex[j_min];
        const int64_t slot = t * top_k + j_min;
        acc += slot_weight[slot] * expert_out[static_cast<int64_t>(slot_row[slot]) * d + c];
      }
      y[t * d + c] = acc;
    }
  }
}

unsigned blocks_for_rows(int64_t rows) { return static_cast<unsigned>(rows < 65535 ? rows : 65535); }

}  // namespace

void moe_route_and_group(Context& ctx, const float* x, int64_t n, int64_t d, int num_experts, int top_k,
                         const MoeScratch& s, float* gathered) {
  cudaStream_t st = stream_of(ctx);
  const int64_t slots = n * top_k;
  fill_zero(ctx, s.counts, sizeof(int32_t) * num_experts);
  moe_topk_softmax_kernel<<<grid_for(n, 128), 128, 0, st>>>(s.logits, n, num_experts, top_k, s.slot_expert,
                                                              s.slot_weight, s.counts);
  MOEASR_CUDA_CHECK_LAUNCH("moe_topk_softmax_kernel");
  moe_offsets_kernel<<<1, 1, 0, st>>>(s.counts, num_experts, s.offsets, s.cursor);
  MOEASR_CUDA_CHECK_LAUNCH("moe_offsets_kernel");
  moe_assign_rows_kernel<<<grid_for(slots), kThreads, 0, st>>>(s.slot_expert, slots, s.cursor, s.slot_row,
                                                                s.row_slot);
  MOEASR_CUDA_CHECK_LAUNCH("moe_assign_rows_kernel");
  moe_gather_kernel<<<blocks_for_rows(slots), 128, 0, st>>>(x, slots, d, top_k, s.row_slot, gathered);
  MOEASR_CUDA_CHECK_LAUNCH("moe_gather_kernel");
}

void moe_combine(Context& ctx, int64_t n, int64_t d, int top_k, const MoeScratch& s, const float* expert_out,
                 float* y) {
  moe_combine_kernel<<<blocks_for_rows(n), 128, 0, stream_of(ctx)>>>(n, d, top_k, s.slot_expert, s.slot_weight,
                                                                      s.slot_row, expert_out, y);
  MOEASR_CUDA_CHECK_LAUNCH("moe_combine_kernel");
}

}  // namespace moeasr::cuda
