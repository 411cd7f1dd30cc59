// Internal to kernels/cuda: the stages of moe_ffn (moe.cu), each in its own
// file: routing and grouping (moe_route.cu), the grouped GEMM
// (moe_grouped_gemm.cu).
#pragma once

#include <cstdint>

#include "kernels/cuda/ops.h"

namespace moeasr::cuda {

// Largest top_k the routing kernel handles (it keeps the choice in registers).
constexpr int kMaxTopK = 32;

// One expert's weights as the device kernels read them.
struct ExpertDev {
  const void* w1;  // [hidden, d]
  const float* b1;
  const void* w2;  // [d, hidden]
  const float* b2;
  int32_t w1_bf16, w2_bf16;  // 1 when the matrix holds bf16 bits
};

// Device scratch of one moe_ffn call (pointers into Workspace buffers).
struct MoeScratch {
  float* logits;        // [n, E]
  int32_t* slot_expert; // [n * k] chosen experts, best first per token
  float* slot_weight;   // [n * k] softmax over the k chosen logits
  int32_t* slot_row;    // [n * k] grouped row of each slot
  int32_t* row_slot;    // [n * k] slot of each grouped row
  int32_t* counts;      // [E] rows per expert
  int32_t* offsets;     // [E + 1] first row of each expert
  int32_t* cursor;      // [E] next free row per expert while grouping
};

// Top-k of each token's raw logits (ties: the lower expert id first, as
// kernels/cpu/moe.cc and torch.topk), softmax over the k, and per-expert
// counts; then offsets; then the rows grouped by expert; then x gathered in
// that order into `gathered` [n * k, d].
void moe_route_and_group(Context& ctx, const float* x, int64_t n, int64_t d, int num_experts, int top_k,
                         const MoeScratch& s, float* gathered);

// y[t] = sum over t's k slots, in ascending expert order, of weight * expert_out[row of slot].
void moe_combine(Context& ctx, int64_t n, int64_t d, int top_k, const MoeScratch& s, const float* expert_out,
                 float* y);

// The grouped GEMM: for every expert e, the rows [offsets[e], offsets[e+1]) of
// a ([rows, k_dim], float) times that expert's w1 (which == 1) or w2
// (which == 2) transposed, plus its bias, then `act` when apply_act, into c
// [rows, n_dim]. Sizes are read on the device; max_rows_per_expert bounds the
// grid (n: a token picks an expert at most once).
void grouped_gemm(Context& ctx, const float* a, int64_t max_rows_per_expert, int num_experts, const int32_t* offsets,
                  const ExpertDev* experts, int which, int64_t n_dim, int64_t k_dim, bool apply_act, Activation act,
                  float* c);

// c[r, :] += bias of row r's expert (w1's when which == 1, else w2's), then
// `act` when apply_act; rows = offsets[E]. For the cuBLAS paths.
void expert_bias_act(Context& ctx, float* c, int64_t rows, int64_t n_dim, int num_experts, const int32_t* offsets,
                     const ExpertDev* experts, int which, bool apply_act, Activation act);

}  // namespace moeasr::cuda
