// Multi-head attention cores (the projections are separate GEMMs). Heads are
// column slices of [rows, heads * d_k] matrices, so no transposes are needed.
#pragma once

#include <cstdint>
#include <vector>

namespace moeasr::cpu {

struct AttentionScratch {
  std::vector<float> scores, q_u, q_v;
};

// WeNet's relative-position self-attention with rel_shift disabled:
//   scores = ((q + u) k^T + (q + v) p^T) / sqrt(d_k), softmax, times v.
// q: [t, d] (row stride ldq). k, v, p: [l, d] (row stride ldkv): keys, values
// and linear_pos(pos_emb) for the l visible positions. u, v_bias: [heads, d_k].
// out: [t, d] (row stride ldo). Every query sees every key (one chunk).
void rel_pos_attention(const float* q, int64_t t, int64_t ldq, const float* k, const float* v, const float* p,
                       int64_t l, int64_t ldkv, const float* pos_bias_u, const float* pos_bias_v, int heads, int d_k,
                       float* out, int64_t ldo, AttentionScratch& scratch);

// Scaled dot-product attention. With `causal`, query i sees keys
// 0..first_query_position + i (the queries are positions
// first_query_position.. of the sequence whose l positions are the keys).
void dot_product_attention(const float* q, int64_t t, int64_t ldq, const float* k, const float* v, int64_t l,
                           int64_t ldkv, int heads, int d_k, bool causal, float* out, int64_t ldo,
                           AttentionScratch& scratch, int64_t first_query_position = 0);

}  // namespace moeasr::cpu
