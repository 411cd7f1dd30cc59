#include "kernels/cpu/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"

namespace moeasr::cpu {

void moe_route(const float* x, int64_t n, const MoeView& L, MoeWorkspace& ws) {
  const int E = L.num_experts, k = L.top_k;
  ws.logits.resize(static_cast<size_t>(n) * E);
  linear(x, n, L.d, L.gate, nullptr, E, ws.logits.data(), E);

  ws.slot_expert.resize(static_cast<size_t>(n) * k);
  ws.slot_weight.resize(static_cast<size_t>(n) * k);
  ws.order.resize(E);
  int32_t* order = ws.order.data();
  for (int64_t t = 0; t < n; ++t) {
    const float* l = ws.logits.data() + t * E;
    for (int e = 0; e < E; ++e) order[e] = e;
    // Largest logits first; equal logits keep the lower expert id first (torch.topk on CPU).
    std::partial_sort(order, order + k, order + E, [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    // Softmax over the k chosen logits, in float32 as WeNet does.
    const float top = l[order[0]];
    float sum = 0.f;
    for (int j = 0; j < k; ++j) sum += std::exp(l[order[j]] - top);
    for (int j = 0; j < k; ++j) {
      ws.slot_expert[t * k + j] = order[j];
      ws.slot_weight[t * k + j] = std::exp(l[order[j]] - top) / sum;
    }
  }
}

namespace {

// Counting sort of the n*k (token, slot) pairs by expert: row r of the grouped
// matrices holds slot row_slot[r] = token * k + j; rows of one expert are
// contiguous, in ascending token order.
void group_by_expert(int64_t n, const MoeView& L, MoeWorkspace& ws) {
  const int E = L.num_experts, k = L.top_k;
  ws.counts.assign(E, 0);
  for (int64_t s = 0; s < n * k; ++s) ++ws.counts[ws.slot_expert[s]];
  ws.offsets.assign(E + 1, 0);
  for (int e = 0; e < E; ++e) ws.offsets[e + 1] = ws.offsets[e] + ws.counts[e];
  std::vector<int32_t> cursor(ws.offsets.begin(), ws.offsets.end() - 1);
  ws.row_slot.resize(static_cast<size_t>(n) * k);
  for (int64_t t = 0; t < n; ++t) {
    for (int j = 0; j < k; ++j) {
      const int e = ws.slot_expert[t * k + j];
      ws.row_slot[cursor[e]++] = static_cast<int32_t>(t * k + j);
    }
  }
}

}  // namespace

void moe_ffn(const float* x, int64_t n, const MoeView& L, float* y, MoeWorkspace& ws, int64_t* expert_load) {
  const int64_t d = L.d, H = L.hidden;
  const int k = L.top_k;
  if (n == 0) return;  // y may be null then: memset(nullptr, 0, 0) is undefined
  std::memset(y, 0, sizeof(float) * n * d);
  moe_route(x, n, L, ws);
  group_by_expert(n, L, ws);
  const int64_t rows = n * k;

  // Gather the routed rows, expert by expert.
  ws.gathered.resize(static_cast<size_t>(rows) * d);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t token = ws.row_slot[r] / k;
    std::memcpy(ws.gathered.data() + r * d, x + token * d, sizeof(float) * d);
  }
  ws.hidden.resize(static_cast<size_t>(rows) * H);
  ws.expert_out.resize(static_cast<size_t>(rows) * d);
  for (int e = 0; e < L.num_experts; ++e) {
    const int64_t begin = ws.offsets[e], count = ws.counts[e];
    if (expert_load) expert_load[e] += count;
    if (count == 0) continue;
    const ExpertWeights& w = L.experts[e];
    float* h = ws.hidden.data() + begin * H;
    linear_activation(ws.gathered.data() + begin * d, count, w.w1, w.b1, L.activation, h, H);
    linear(h, count, w.w2, w.b2, ws.expert_out.data() + begin * d, d);
  }
  // Weighted scatter-add. Rows are visited expert by expert, so every token
  // accumulates its experts in ascending expert order, like WeNet's loop.
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t slot = ws.row_slot[r];
    add_scaled(y + (slot / k) * d, ws.expert_out.data() + r * d, ws.slot_weight[slot], d);
  }
}

void moe_ffn_per_expert_loop(const float* x, int64_t n, const MoeView& L, float* y, MoeWorkspace& ws,
                             int64_t* expert_load) {
  const int64_t d = L.d, H = L.hidden;
  const int k = L.top_k;
  if (n == 0) return;  // y may be null then: memset(nullptr, 0, 0) is undefined
  std::memset(y, 0, sizeof(float) * n * d);
  moe_route(x, n, L, ws);
  std::vector<float> xe, he, ye;
  std::vector<int64_t> tokens;
  std::vector<float> weights;
  for (int e = 0; e < L.num_experts; ++e) {
    tokens.clear();
    weights.clear();
    for (int64_t t = 0; t < n; ++t) {
      for (int j = 0; j < k; ++j) {
        if (ws.slot_expert[t * k + j] == e) {
          tokens.push_back(t);
          weights.push_back(ws.slot_weight[t * k + j]);
        }
      }
    }
    if (tokens.empty()) continue;
    const int64_t m = static_cast<int64_t>(tokens.size());
    if (expert_load) expert_load[e] += m;
    xe.resize(m * d);
    for (int64_t i = 0; i < m; ++i) std::memcpy(xe.data() + i * d, x + tokens[i] * d, sizeof(float) * d);
    he.resize(m * H);
    ye.resize(m * d);
    const ExpertWeights& w = L.experts[e];
    linear_activation(xe.data(), m, w.w1, w.b1, L.activation, he.data(), H);
    linear(he.data(), m, w.w2, w.b2, ye.data(), d);
    for (int64_t i = 0; i < m; ++i) add_scaled(y + tokens[i] * d, ye.data() + i * d, weights[i], d);
  }
}

}  // namespace moeasr::cpu
