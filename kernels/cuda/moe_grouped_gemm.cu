// The MoE experts' GEMMs as ONE launch whose problem sizes stay on the device
// (MoeGemm::kGrouped): no host round trip for the per-expert row counts.
//
// c[r, :] = act(a[r, :] W_e^T + b_e) for the rows r of expert e. The grid is
// (column tiles, row tiles of the largest possible expert, experts); a block
// reads its expert's [offset, offset + count) from `offsets` and returns at
// once when its row tile lies beyond the count, so idle blocks cost a few
// instructions.
//
// A plain shared-memory tiled SGEMM: 64x64 output tile per 256-thread block,
// 16-deep slices of a and W staged in shared memory, each thread accumulating
// a 4x4 sub-tile in float32 registers. Thread (ty, tx) owns rows ty + 16 i and
// columns tx + 16 j, so the stores of a warp hit consecutive columns
// (coalesced) and the shared reads of B are conflict-free. bf16 weights are
// widened on load and meet float32 activations: the products of bf16 weights
// and float32-precision activations that the other modes (a hi + lo pair of
// bf16 activations, linear_impl.h) and the CPU compute.
#include <cuda_bf16.h>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/moe_impl.h"

namespace moeasr::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kGemmThreads = 256;

__device__ __forceinline__ float load_weight(const void* w, bool bf16, int64_t i) {
  return bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(w)[i]) : static_cast<const float*>(w)[i];
}

__global__ void __launch_bounds__(kGemmThreads)
grouped_gemm_kernel(const float* a, const int32_t* offsets, const ExpertDev* experts, int which, int64_t n_dim,
                    int64_t k_dim, bool apply_act, Activation act, float* c) {
  const int e = blockIdx.z;
  const int64_t begin = offsets[e], count = offsets[e + 1] - begin;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTileM;
  if (m0 >= count) return;  // the whole block leaves together: no barrier is skipped by some threads only
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTileN;
  const ExpertDev ex = experts[e];
  const void* w = which == 1 ? ex.w1 : ex.w2;
  const float* bias = which == 1 ? ex.b1 : ex.b2;
  const bool bf16 = (which == 1 ? ex.w1_bf16 : ex.w2_bf16) != 0;
  const float* a_rows = a + begin * k_dim;

  __shared__ float As[kTileK][kTileM + 1];  // As[kk][row]: +1 breaks the store stride
  __shared__ float Bs[kTileK][kTileN + 1];  // Bs[kk][col] = W[n0 + col, k0 + kk]
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  float acc[4][4] = {};

  for (int64_t k0 = 0; k0 < k_dim; k0 += kTileK) {
    // Each thread stages 4 of the 64x16 elements of each tile; consecutive
    // threads read consecutive k (16 contiguous floats per row).
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int idx = tid + l * kGemmThreads;
      const int row = idx / kTileK, kk = idx % kTileK;
      const int64_t gk = k0 + kk;
      float av = 0.f;
      if (m0 + row < count && gk < k_dim) {
        av = a_rows[(m0 + row) * k_dim + gk];
      }
      As[kk][row] = av;
      const int64_t gn = n0 + row;  // the same index split serves W's rows (output columns)
      Bs[kk][row] = gn < n_dim && gk < k_dim ? load_weight(w, bf16, gn * k_dim + gk) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t row = m0 + ty + 16 * i;
    if (row >= count) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t col = n0 + tx + 16 * j;
      if (col >= n_dim) continue;
      float v = acc[i][j] + (bias ? bias[col] : 0.f);
      if (apply_act) v = apply_activation(v, act);
      c[(begin + row) * n_dim + col] = v;
    }
  }
}

// The expert owning grouped row r: the last e with offsets[e] <= r (empty
// experts share their offset with the next one, and the search skips them).
__device__ int expert_of_row(const int32_t* offsets, int num_experts, int64_t r) {
  int lo = 0, hi = num_experts - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= r) lo = mid; else hi = mid - 1;
  }
  return lo;
}

__global__ void expert_bias_act_kernel(float* c, int64_t rows, int64_t n_dim, int num_experts,
                                       const int32_t* offsets, const ExpertDev* experts, int which, bool apply_act,
                                       Activation act) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const ExpertDev& ex = experts[expert_of_row(offsets, num_experts, r)];
    const float* bias = which == 1 ? ex.b1 : ex.b2;
    float* row = c + r * n_dim;
    for (int64_t col = threadIdx.x; col < n_dim; col += blockDim.x) {
      float v = row[col] + (bias ? bias[col] : 0.f);
      row[col] = apply_act ? apply_activation(v, act) : v;
    }
  }
}

}  // namespace

void grouped_gemm(Context& ctx, const float* a, int64_t max_rows_per_expert, int num_experts, const int32_t* offsets,
                  const ExpertDev* experts, int which, int64_t n_dim, int64_t k_dim, bool apply_act, Activation act,
                  float* c) {
  if (max_rows_per_expert <= 0 || n_dim <= 0 || num_experts <= 0) return;
  const int64_t tiles_m = (max_rows_per_expert + kTileM - 1) / kTileM;
  const int64_t tiles_n = (n_dim + kTileN - 1) / kTileN;
  MOEASR_CHECK(tiles_m <= 65535 && num_experts <= 65535 && tiles_n <= INT32_MAX, MOEASR_ERR_UNSUPPORTED,
               "CUDA grouped GEMM: ", max_rows_per_expert, " rows x ", num_experts, " experts exceed the grid");
  const dim3 grid(static_cast<unsigned>(tiles_n), static_cast<unsigned>(tiles_m), static_cast<unsigned>(num_experts));
  grouped_gemm_kernel<<<grid, kGemmThreads, 0, stream_of(ctx)>>>(a, offsets, experts, which, n_dim, k_dim, apply_act,
                                                                 act, c);
  MOEASR_CUDA_CHECK_LAUNCH("grouped_gemm_kernel");
}

void expert_bias_act(Context& ctx, float* c, int64_t rows, int64_t n_dim, int num_experts, const int32_t* offsets,
                     const ExpertDev* experts, int which, bool apply_act, Activation act) {
  if (rows <= 0 || n_dim <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  expert_bias_act_kernel<<<blocks, 128, 0, stream_of(ctx)>>>(c, rows, n_dim, num_experts, offsets, experts, which,
                                                             apply_act, act);
  MOEASR_CUDA_CHECK_LAUNCH("expert_bias_act_kernel");
}

}  // namespace moeasr::cuda
