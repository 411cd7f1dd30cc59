// The CUDA ops the GPU model is written against (kernels/cuda/*.cu). Every
// pointer argument is device memory unless it says "host"; every op is
// queued on the context's stream and returns without waiting, except where
// it says it waits. Shapes are row-major float32 [rows, width] unless stated.
// Each op matches its kernels/cpu counterpart, which is what the GPU tests
// compare it with.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "kernels/cuda/device.h"

namespace moeasr::cuda {

// Scratch reused across calls so a steady stream allocates no device memory.
// Owned by whoever calls the ops (the GPU model keeps one per forward).
struct Workspace {
  Buffer jobs;                       // uploaded job tables
  Buffer a, b, c, d, e, f;           // op-private scratch
  Buffer bf16;                       // linear(): the activations rounded to bf16
  std::vector<uint8_t> host_jobs;    // host staging for job tables
  std::vector<int32_t> host_counts;  // moe_ffn: tokens per expert, downloaded when the host needs them
};

// ---------------------------------------------------------------------------
// Dense linear algebra (cuBLAS)
// ---------------------------------------------------------------------------

enum class WeightType : uint8_t { kF32, kBF16 };

// A Linear layer's weight [n, k] (PyTorch layout: y = x W^T + b), on device.
struct DeviceLinear {
  const void* weight = nullptr;  // float or bf16 bits, row-major [n, k]
  WeightType type = WeightType::kF32;
  int64_t n = 0, k = 0;
  const float* bias = nullptr;   // [n] or null
};

// y[rows, n] = x[rows, k] W^T + bias. bf16 weights multiply bf16-rounded
// activations with float32 accumulation (cuBLAS GemmEx); y never aliases x.
void linear(Context& ctx, const float* x, int64_t rows, const DeviceLinear& w, float* y, Workspace& ws);

// ---------------------------------------------------------------------------
// Element-wise and row-wise ops
// ---------------------------------------------------------------------------

// y = LayerNorm(x) over rows of width d (y may alias x).
void layer_norm(Context& ctx, const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta,
                float eps, float* y);
// y += alpha * x over n values.
void add_scaled(Context& ctx, float* y, const float* x, float alpha, int64_t n);
void scale(Context& ctx, float* x, float s, int64_t n);
void activation(Context& ctx, float* x, int64_t n, Activation act);
// y[rows, c] = x[:, :c] * sigmoid(x[:, c:]) for x [rows, 2c].
void glu(Context& ctx, const float* x, int64_t rows, int64_t c, float* y);
void log_softmax_rows(Context& ctx, float* x, int64_t rows, int64_t cols);
// x[r, f] = (x[r, f] - mean[f]) * istd[f]  (WeNet's global CMVN).
void cmvn(Context& ctx, float* x, int64_t rows, int64_t f, const float* mean, const float* istd);
// out[i, :] = table[ids[i], :] * s  (decoder token embedding; ids on device).
void embedding(Context& ctx, const float* table, const int32_t* ids, int64_t n, int64_t d, float s, float* out);
// out[i] = x[i, cols[i]]  (a hypothesis's log-probabilities at its tokens; cols on device).
void gather_columns(Context& ctx, const float* x, int64_t rows, int64_t ld, const int32_t* cols, float* out);

// Batched row copies: job i copies rows [0, rows) of width `width` from src to
// dst. The source and destination of one job must not overlap.
struct RowCopy {
  float* dst;
  const float* src;
  int32_t rows;
};
void copy_rows(Context& ctx, const std::vector<RowCopy>& jobs, int64_t width, Workspace& ws);

// ---------------------------------------------------------------------------
// Convolutions (batched over streams: one launch sequence for all jobs)
// ---------------------------------------------------------------------------

// Conv2dSubsampling4's 3x3 stride-2 "valid" convolution + ReLU, for several
// inputs at once (as kernels/cpu/conv.h): in [t_in, f_in, c_in] -> out
// [(t_in - 3) / 2 + 1, (f_in - 3) / 2 + 1, c_out]; weight [3, 3, c_in, c_out].
struct Conv2dJob {
  const float* in;
  int32_t t_in;
  float* out;
};
void conv2d_3x3_s2_relu(Context& ctx, const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in,
                        const float* weight, const float* bias, int64_t c_out, Workspace& ws);

// Causal depthwise convolution over time with a cache, per stream:
//   in = [cache (kernel - 1 rows); frames (t rows)],  out[t, C] = bias + sum_j w_t[j] * in[t + j]
// and afterwards cache = the last kernel - 1 rows of `in` (updated in place).
// w_t: [kernel, C]. bias may be null.
struct CausalConvJob {
  float* cache;         // [kernel - 1, C]
  const float* frames;  // [t, C]
  int32_t t;
  float* out;           // [t, C]
};
void causal_depthwise_conv(Context& ctx, const std::vector<CausalConvJob>& jobs, int64_t channels,
                           const float* w_t, const float* bias, int kernel, Workspace& ws);

// ---------------------------------------------------------------------------
// Attention (batched over streams or hypotheses)
// ---------------------------------------------------------------------------

// One query block against its keys: q/out [t, d], keys/values/positions [len, d]
// (row stride d everywhere; heads are column slices of width d_k).
struct AttentionJob {
  const float* q;
  float* out;
  const float* keys;
  const float* values;
  const float* positions;  // rel-pos only: linear_pos of the keys' position encodings
  int32_t t;
  int32_t len;
};
// WeNet's rel-pos self-attention with rel_shift disabled (kernels/cpu/attention.h):
//   softmax(((q + u) k^T + (q + v) p^T) / sqrt(d_k)) v. pos_bias_u/v: [heads, d_k].
void rel_pos_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, const float* pos_bias_u,
                       const float* pos_bias_v, int heads, int d_k, Workspace& ws);
// softmax(q k^T / sqrt(d_k)) v; with `causal`, query i sees keys 0..i.
void dot_product_attention(Context& ctx, const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k,
                           bool causal, Workspace& ws);

// ---------------------------------------------------------------------------
// Top-k Mixture of Experts (WeNet's MoEFFNLayer), all on device
// ---------------------------------------------------------------------------

struct DeviceMoe {
  int64_t d = 0, hidden = 0;
  int num_experts = 0, top_k = 0;
  Activation activation = Activation::kRelu;
  const float* gate = nullptr;             // [num_experts, d] (device)
  const DeviceLinear* w1 = nullptr;        // host array of num_experts: [hidden, d] + bias
  const DeviceLinear* w2 = nullptr;        // host array of num_experts: [d, hidden] + bias
};

// How the experts' GEMMs run.
enum class MoeGemm {
  kGrouped,        // one grouped kernel over all experts, problem sizes on device: no host round trip
  kCublasGrouped,  // cublasGemmGroupedBatchedEx (sizes on host: one device->host copy of the counts)
  kPerExpertLoop,  // one cuBLAS GEMM per expert (sizes on host), the baseline
};
const char* moe_gemm_name(MoeGemm g);

// y[n, d] = MoE(x[n, d]): router GEMM, fused top-k + softmax over the k,
// tokens grouped by expert (counts, offsets, gather), w_1 + bias + activation,
// w_2 + bias, weighted scatter back to tokens. y must not alias x.
// `expert_load` (host, optional, num_experts entries) is incremented by the
// tokens each expert received; asking for it waits for the counts.
void moe_ffn(Context& ctx, const float* x, int64_t n, const DeviceMoe& layer, float* y, Workspace& ws,
             MoeGemm gemm = MoeGemm::kGrouped, int64_t* expert_load = nullptr);

}  // namespace moeasr::cuda
