// The argument types kernels/cpu and kernels/cuda share: weight matrices,
// experts, and the job tables of the batched ops (one entry per stream or
// hypothesis, so one call serves a whole batch). Pointers are memory of the
// device the kernel runs on; the tables themselves are host structs.
#pragma once

#include <cstdint>

#include "core/activation.h"

namespace moeasr {

enum class WeightType : uint8_t { kF32, kBF16, kI8, kF16 };

inline const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::kF32: return "float32";
    case WeightType::kBF16: return "bfloat16";
    case WeightType::kI8: return "int8";
    case WeightType::kF16: return "float16";
  }
  return "?";
}

// A Linear layer's weight matrix [n, k] (PyTorch layout: y = x W^T) in one of
// the storage types the kernels read directly: float32, bfloat16, float16
// (CPU only), or int8 with a symmetric per-output-row scale. Kernels never
// copy the matrix: weights stored in the compute type stay in the mmap'd file
// on the CPU.
struct WeightMatrix {
  WeightType type = WeightType::kF32;
  int64_t n = 0;  // output features (rows)
  int64_t k = 0;  // input features (columns)
  const void* data = nullptr;        // float / uint16_t (bf16 or IEEE half bits) / int8_t, row-major [n, k]
  const float* scale = nullptr;      // int8: w[r][c] = data[r][c] * scale[r]
  const int32_t* row_sum = nullptr;  // int8: sum of data[r][:] (activation zero-point correction)

  const float* f32() const { return static_cast<const float*>(data); }
  const uint16_t* bf16() const { return static_cast<const uint16_t*>(data); }
  const uint16_t* f16() const { return static_cast<const uint16_t*>(data); }
  const int8_t* i8() const { return static_cast<const int8_t*>(data); }
  // Bytes of the matrix itself (what a kernel streams through once).
  int64_t bytes() const { return n * k * (type == WeightType::kF32 ? 4 : type == WeightType::kI8 ? 1 : 2); }
};

// One expert of a mixture: w_2(act(w_1 x + b_1)) + b_2.
struct ExpertWeights {
  WeightMatrix w1;  // [hidden, d]
  const float* b1;  // [hidden] or null
  WeightMatrix w2;  // [d, hidden]
  const float* b2;  // [d] or null
};

// A top-k MoE layer (WeNet's MoEFFNLayer).
struct MoeView {
  int64_t d = 0, hidden = 0;
  int num_experts = 0, top_k = 0;
  Activation activation = Activation::kRelu;
  const float* gate = nullptr;             // [num_experts, d]
  const ExpertWeights* experts = nullptr;  // host array of num_experts
};

// How a top-k MoE layer runs its experts' GEMMs (ModelOptions::moe_gemm).
enum class MoeGemm {
  kGrouped,        // tokens grouped by expert, one GEMM per expert over its tokens (CUDA: one grouped kernel)
  kCublasGrouped,  // CUDA only: cublasGemmGroupedBatchedEx (elsewhere the same as kGrouped)
  kPerExpertLoop,  // one GEMM per expert over the tokens routed to it, WeNet's loop: the baseline
};

inline const char* moe_gemm_name(MoeGemm g) {
  switch (g) {
    case MoeGemm::kGrouped: return "grouped";
    case MoeGemm::kCublasGrouped: return "cublas_grouped";
    case MoeGemm::kPerExpertLoop: return "loop";
  }
  return "?";
}

// Rows [0, rows) of some width from src to dst; src and dst never overlap.
struct RowCopy {
  float* dst;
  const float* src;
  int32_t rows;
};

// 3x3 stride-2 convolution: in [t_in, f_in, c_in] -> out [(t_in - 3) / 2 + 1, (f_in - 3) / 2 + 1, c_out].
struct Conv2dJob {
  const float* in;
  int32_t t_in;
  float* out;
};

// Depthwise convolution over time of [left; frames; right] where left is
// `cache` (kernel - 1 rows) or, when null, kernel - 1 zero rows, and right is
// `right_zeros` zero rows: out row i = bias + sum_j w_t[j] * in[skip + i + j]
// for t + right_zeros - skip rows. A causal convolution with a cache is
// {cache, frames, t, 0, 0, out}, after which the cache holds the last
// kernel - 1 rows of [cache; frames]. A centred one (padding
// p = (kernel - 1) / 2 on both sides) is {null, frames, t, p, p, out}.
struct DepthwiseConvJob {
  float* cache;
  const float* frames;
  int32_t t;
  int32_t right_zeros;
  int32_t skip;
  float* out;
};

// One query block against its keys: q/out [t, d], keys/values/positions
// [len, d], row stride d everywhere; heads are column slices of width d_k.
// With causal attention query i is position first + i and sees keys 0..first + i.
struct AttentionJob {
  const float* q;
  float* out;
  const float* keys;
  const float* values;
  const float* positions;  // rel-pos only: linear_pos of the keys' position encodings
  int32_t t;
  int32_t len;
  int32_t first;
};

// Sinusoid rows of positions first .. first + count - 1 into dst ([count, d]).
struct PositionJob {
  float* dst;
  int64_t first;
  int32_t count;
};

}  // namespace moeasr
