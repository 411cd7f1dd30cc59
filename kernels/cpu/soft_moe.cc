#include "kernels/cpu/soft_moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/softmax.h"

namespace moeasr::cpu {

namespace {

// torch.nn.functional.normalize: x / max(||x||, eps).
constexpr float kNormalizeEps = 1e-12f;

// logits[n, m] of n tokens (row-wise, so any set of groups at once).
void slot_logits(const float* x, int64_t n, const SoftMoeView& L, float* logits, std::vector<float>& xn) {
  const int64_t d = L.d, m = L.slots();
  if (!L.normalize) {
    linear(x, n, d, L.phi, nullptr, m, logits, m);
    return;
  }
  xn.resize(static_cast<size_t>(n * d));
  for (int64_t t = 0; t < n; ++t) {
    double sum = 0;
    for (int64_t c = 0; c < d; ++c) sum += static_cast<double>(x[t * d + c]) * x[t * d + c];
    const float inv = 1.f / std::max(static_cast<float>(std::sqrt(sum)), kNormalizeEps);
    for (int64_t c = 0; c < d; ++c) xn[t * d + c] = x[t * d + c] * inv;
  }
  linear(xn.data(), n, d, L.phi, nullptr, m, logits, m);
  scale(logits, logits, L.scale, n * m);
}

// Column softmax of logits[n, m] over the n tokens (the dispatch weights), in place.
void softmax_columns(float* a, int64_t n, int64_t m) {
  for (int64_t j = 0; j < m; ++j) {
    float top = a[j];
    for (int64_t t = 1; t < n; ++t) top = std::max(top, a[t * m + j]);
    float sum = 0.f;
    for (int64_t t = 0; t < n; ++t) sum += (a[t * m + j] = std::exp(a[t * m + j] - top));
    const float inv = 1.f / sum;
    for (int64_t t = 0; t < n; ++t) a[t * m + j] *= inv;
  }
}

}  // namespace

void soft_moe_weights(const float* x, int64_t n, const SoftMoeView& L, float* dispatch, float* combine,
                      std::vector<float>& xn) {
  const int64_t m = L.slots();
  if (n == 0) return;
  slot_logits(x, n, L, combine, xn);
  std::memcpy(dispatch, combine, sizeof(float) * n * m);
  softmax_rows(combine, n, m, m);
  softmax_columns(dispatch, n, m);
}

void soft_moe(const float* x, const int64_t* offsets, int num_groups, const SoftMoeView& L, float* y,
              SoftMoeWorkspace& ws) {
  const int64_t d = L.d, H = L.hidden, m = L.slots(), S = L.slots_per_expert;
  const int64_t n = offsets[num_groups];
  if (n == 0) return;
  // Empty groups have no slots (their dispatch softmax would be 0/0).
  ws.groups.clear();
  for (int g = 0; g < num_groups; ++g) {
    if (offsets[g + 1] > offsets[g]) ws.groups.push_back(g);
  }
  const int64_t G = static_cast<int64_t>(ws.groups.size());

  // Logits for all tokens in one GEMM; the softmaxes are per group (dispatch) and per token (combine).
  ws.combine.resize(static_cast<size_t>(n * m));
  ws.dispatch.resize(static_cast<size_t>(n * m));
  slot_logits(x, n, L, ws.combine.data(), ws.xn);
  std::memcpy(ws.dispatch.data(), ws.combine.data(), sizeof(float) * n * m);
  softmax_rows(ws.combine.data(), n, m, m);

  // Slot inputs, expert-major: expert e's slots of group i are rows (e * G + i) * S ..,
  // so each expert's slots of all groups are one contiguous block.
  // One GEMM per group (small GEMM calls cost more than the copies), then each
  // expert's S rows move to their place.
  ws.slots_in.resize(static_cast<size_t>(m * G * d));
  ws.group_slots.resize(static_cast<size_t>(m * d));
  const size_t expert_bytes = sizeof(float) * S * d;
  for (int64_t i = 0; i < G; ++i) {
    const int64_t begin = offsets[ws.groups[i]], count = offsets[ws.groups[i] + 1] - begin;
    float* D = ws.dispatch.data() + begin * m;
    softmax_columns(D, count, m);
    sgemm(true, false, m, d, count, 1.f, D, m, x + begin * d, d, 0.f, ws.group_slots.data(), d);  // Dᵀ x_group
    for (int e = 0; e < L.num_experts; ++e) {
      std::memcpy(ws.slots_in.data() + (e * G + i) * S * d, ws.group_slots.data() + e * S * d, expert_bytes);
    }
  }

  // Each expert: one GEMM pair over its G * S slots.
  const int64_t rows = G * S;
  ws.hidden.resize(static_cast<size_t>(rows * H));
  ws.slots_out.resize(static_cast<size_t>(m * G * d));
  for (int e = 0; e < L.num_experts; ++e) {
    const ExpertWeights& w = L.experts[e];
    linear_activation(ws.slots_in.data() + e * rows * d, rows, w.w1, w.b1, L.activation, ws.hidden.data(), H);
    linear(ws.hidden.data(), rows, w.w2, w.b2, ws.slots_out.data() + e * rows * d, d);
  }

  // y_group = C_group · the group's slot outputs (gathered back to slot order).
  // Rows of empty groups are never written: there are none.
  for (int64_t i = 0; i < G; ++i) {
    const int64_t begin = offsets[ws.groups[i]], count = offsets[ws.groups[i] + 1] - begin;
    for (int e = 0; e < L.num_experts; ++e) {
      std::memcpy(ws.group_slots.data() + e * S * d, ws.slots_out.data() + (e * G + i) * S * d, expert_bytes);
    }
    sgemm(false, false, count, d, m, 1.f, ws.combine.data() + begin * m, m, ws.group_slots.data(), d, 0.f,
          y + begin * d, d);
  }
}

}  // namespace moeasr::cpu
