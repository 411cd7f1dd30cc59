// The CUDA ops behind the CUDA backend (src/ops/cuda_backend.cc), one per
// function of the Backend table (src/ops/backend.h), which documents each
// op's arithmetic; this header says only what is CUDA-specific. Every pointer
// argument is device memory unless it says "host"; job tables and index lists
// are host vectors, uploaded through the workspace. Every op is queued on the
// context's stream and returns without waiting, except where it says it
// waits. Each op matches its kernels/cpu counterpart, which is what the GPU
// tests compare it with; tests/cuda/host_device.cc emulates this interface on
// the host.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "kernels/cuda/device.h"
#include "kernels/types.h"

namespace moeasr::cuda {

// Scratch reused across calls so a steady stream allocates no device memory.
// Owned by whoever calls the ops (the CUDA backend keeps one).
struct Workspace {
  Buffer jobs;                       // uploaded job tables and index lists
  Buffer a, b, c, d, e, f;           // op-private scratch
  Buffer bf16;                       // linear(): the activations rounded to bf16
  std::vector<uint8_t> host_jobs;    // host staging for job tables
  std::vector<int32_t> host_counts;  // moe_ffn: tokens per expert, downloaded when the host needs them
};

// ---------------------------------------------------------------------------
// Dense linear algebra (cuBLAS)
// ---------------------------------------------------------------------------

// y[rows, w.n] = x[rows, w.k] W^T + bias (bias may be null). bf16 weights
// multiply bf16-rounded activations with float32 accumulation (cuBLAS
// GemmEx); int8 weights have no CUDA kernel (Error(MOEASR_ERR_UNSUPPORTED)).
// y never aliases x.
void linear(Context& ctx, const float* x, int64_t rows, const WeightMatrix& w, const float* bias, float* y,
            Workspace& ws);
// Row-major C = alpha op(A) op(B) + beta C, `batch` times (strided), float32.
void gemm(Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch,
          int64_t stride_a, int64_t stride_b, int64_t stride_c);

// ---------------------------------------------------------------------------
// Element-wise and row-wise ops
// ---------------------------------------------------------------------------

void layer_norm(Context& ctx, const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta,
                float eps, float* y);
void add_scaled(Context& ctx, float* y, const float* x, float alpha, int64_t n);
void mul(Context& ctx, float* y, const float* x, int64_t n);  // y *= x element-wise
void add_row_scaled(Context& ctx, float* y, const float* x, int64_t rows, int64_t d, const float* s, int64_t stride);
void scale(Context& ctx, float* x, float s, int64_t n);
void activation(Context& ctx, float* x, int64_t n, Activation act);
void glu(Context& ctx, const float* x, int64_t rows, int64_t c, float* y);
void channel_affine(Context& ctx, const float* x, int64_t rows, int64_t c, const float* scale, const float* shift,
                    float* y);
void cmvn(Context& ctx, float* x, int64_t rows, int64_t c, const float* mean, const float* istd);
void l2_normalize_rows(Context& ctx, const float* x, int64_t rows, int64_t d, float* y);
void softmax_rows(Context& ctx, float* x, int64_t rows, int64_t cols);
void log_softmax_rows(Context& ctx, float* x, int64_t rows, int64_t cols);
void softmax_segments(Context& ctx, float* x, int64_t cols, const std::vector<int64_t>& offsets, float temperature,
                      Workspace& ws);

// ---------------------------------------------------------------------------
// Index-driven copies (index lists on the host)
// ---------------------------------------------------------------------------

void copy_rows(Context& ctx, const std::vector<RowCopy>& jobs, int64_t width, Workspace& ws);
void gather_rows(Context& ctx, const float* src, int64_t width, const std::vector<int32_t>& rows, float fill,
                 float* dst, Workspace& ws);
void scatter_rows(Context& ctx, const float* src, int64_t width, const std::vector<int32_t>& rows, float* dst,
                  Workspace& ws);
void gather_elements(Context& ctx, const float* x, int64_t ld, const std::vector<int64_t>& rows,
                     const std::vector<int32_t>& cols, float* out, Workspace& ws);
void embedding(Context& ctx, const float* table, int64_t d, const std::vector<int32_t>& ids, float s, float* out,
               Workspace& ws);

// ---------------------------------------------------------------------------
// The Conformer's batched ops (one launch sequence for all jobs)
// ---------------------------------------------------------------------------

void position_encoding(Context& ctx, const float* div, int64_t d, const std::vector<PositionJob>& jobs,
                       Workspace& ws);
void conv2d_3x3_s2_relu(Context& ctx, const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in,
                        const float* weight, const float* bias, int64_t c_out, Workspace& ws);
void depthwise_conv(Context& ctx, const std::vector<DepthwiseConvJob>& jobs, int64_t channels, const float* w_t,
                    const float* bias, int kernel, Workspace& ws);
void rel_pos_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, const float* pos_bias_u,
                       const float* pos_bias_v, int heads, int d_k, Workspace& ws);
void dot_product_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k,
                           bool causal, Workspace& ws);

// ---------------------------------------------------------------------------
// Top-k Mixture of Experts (WeNet's MoEFFNLayer), all on device
// ---------------------------------------------------------------------------

// Router GEMM, fused top-k + softmax over the k, tokens grouped by expert
// (counts, offsets, gather), w_1 + bias + activation, w_2 + bias, weighted
// gather back to tokens; kGrouped never waits for the host, the cuBLAS modes
// download the counts once. `expert_load` (host, optional) waits for the counts.
void moe_ffn(Context& ctx, const float* x, int64_t n, const MoeView& layer, float* y, Workspace& ws,
             MoeGemm gemm = MoeGemm::kGrouped, int64_t* expert_load = nullptr);

}  // namespace moeasr::cuda
