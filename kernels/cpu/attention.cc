#include "kernels/cpu/attention.h"

#include <cmath>
#include <limits>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/softmax.h"

namespace moeasr::cpu {

void rel_pos_attention(const float* q, int64_t t, int64_t ldq, const float* k, const float* v, const float* p,
                       int64_t l, int64_t ldkv, const float* pos_bias_u, const float* pos_bias_v, int heads, int d_k,
                       float* out, int64_t ldo, AttentionScratch& s) {
  if (t == 0) return;
  const float scale = 1.f / std::sqrt(static_cast<float>(d_k));
  s.scores.resize(static_cast<size_t>(t) * l);
  s.q_u.resize(static_cast<size_t>(t) * d_k);
  s.q_v.resize(static_cast<size_t>(t) * d_k);
  for (int h = 0; h < heads; ++h) {
    const int64_t col = static_cast<int64_t>(h) * d_k;
    const float* u = pos_bias_u + col;
    const float* vb = pos_bias_v + col;
    for (int64_t i = 0; i < t; ++i) {
      const float* qi = q + i * ldq + col;
      for (int j = 0; j < d_k; ++j) {
        s.q_u[i * d_k + j] = qi[j] + u[j];
        s.q_v[i * d_k + j] = qi[j] + vb[j];
      }
    }
    // scores = scale * (q_u k^T) + scale * (q_v p^T)
    sgemm(false, true, t, l, d_k, scale, s.q_u.data(), d_k, k + col, ldkv, 0.f, s.scores.data(), l);
    sgemm(false, true, t, l, d_k, scale, s.q_v.data(), d_k, p + col, ldkv, 1.f, s.scores.data(), l);
    softmax_rows(s.scores.data(), t, l, l);
    sgemm(false, false, t, d_k, l, 1.f, s.scores.data(), l, v + col, ldkv, 0.f, out + col, ldo);
  }
}

void dot_product_attention(const float* q, int64_t t, int64_t ldq, const float* k, const float* v, int64_t l,
                           int64_t ldkv, int heads, int d_k, bool causal, float* out, int64_t ldo,
                           AttentionScratch& s, int64_t first_query_position) {
  if (t == 0) return;
  const float scale = 1.f / std::sqrt(static_cast<float>(d_k));
  s.scores.resize(static_cast<size_t>(t) * l);
  for (int h = 0; h < heads; ++h) {
    const int64_t col = static_cast<int64_t>(h) * d_k;
    sgemm(false, true, t, l, d_k, scale, q + col, ldq, k + col, ldkv, 0.f, s.scores.data(), l);
    if (causal) {
      // Masked scores get probability exactly 0 (WeNet: fill -inf, softmax, fill 0).
      for (int64_t i = 0; i < t; ++i) {
        float* row = s.scores.data() + i * l;
        const int64_t visible = std::min<int64_t>(first_query_position + i + 1, l);
        softmax_rows(row, 1, visible, visible);
        for (int64_t j = visible; j < l; ++j) row[j] = 0.f;
      }
    } else {
      softmax_rows(s.scores.data(), t, l, l);
    }
    sgemm(false, false, t, d_k, l, 1.f, s.scores.data(), l, v + col, ldkv, 0.f, out + col, ldo);
  }
}

}  // namespace moeasr::cpu
