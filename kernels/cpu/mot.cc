#include "kernels/cpu/mot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"

namespace moeasr::cpu {

void mot_weights(const float* x, int64_t n, const MotLayerView& L, const MotGroups& groups, MotWorkspace& ws) {
  const int E = L.num_experts, G = L.group_size;
  ws.logits.resize(static_cast<size_t>(n) * E);
  if (n > 0) linear(x, n, L.d, L.controller, nullptr, E, ws.logits.data(), E);
  ws.weights.assign(static_cast<size_t>(groups.num_groups) * G * E, 0.f);
  for (int64_t j = 0; j < groups.num_groups; ++j) {
    const int32_t* rows = groups.rows + j * G;
    float* w = ws.weights.data() + j * G * E;
    for (int e = 0; e < E; ++e) {
      // Softmax over the group's real tokens, per expert; (l - max) / tau
      // cannot overflow however small tau is.
      float top = -INFINITY;
      for (int s = 0; s < G; ++s) {
        if (rows[s] >= 0) top = std::max(top, ws.logits[rows[s] * E + e]);
      }
      if (top == -INFINITY) continue;  // an all-masked group mixes nothing
      float sum = 0.f;
      for (int s = 0; s < G; ++s) {
        if (rows[s] < 0) continue;
        w[s * E + e] = std::exp((ws.logits[rows[s] * E + e] - top) / L.temperature);
        sum += w[s * E + e];
      }
      for (int s = 0; s < G; ++s) w[s * E + e] /= sum;
    }
  }
}

void mot_ffn(const float* x, int64_t n, const MotLayerView& L, const MotGroups& groups, float* y, MotWorkspace& ws) {
  const int64_t d = L.d, H = L.hidden, M = groups.num_groups;
  const int E = L.num_experts, G = L.group_size;
  if (n == 0) return;  // y may be null then
  std::memset(y, 0, sizeof(float) * n * d);
  if (M == 0) return;
  mot_weights(x, n, L, groups, ws);

  // One mixed token per expert and group, laid out expert-major so each
  // expert's mixtures are one contiguous [M, d] GEMM input.
  ws.mixed.assign(static_cast<size_t>(E) * M * d, 0.f);
  for (int64_t j = 0; j < M; ++j) {
    const int32_t* rows = groups.rows + j * G;
    const float* w = ws.weights.data() + j * G * E;
    for (int s = 0; s < G; ++s) {
      if (rows[s] < 0) continue;
      const float* xs = x + static_cast<int64_t>(rows[s]) * d;
      for (int e = 0; e < E; ++e) add_scaled(ws.mixed.data() + (e * M + j) * d, xs, w[s * E + e], d);
    }
  }
  // Every expert runs once per group: one GEMM each over the M mixtures.
  ws.hidden.resize(static_cast<size_t>(M) * H);
  ws.expert_out.resize(static_cast<size_t>(E) * M * d);
  for (int e = 0; e < E; ++e) {
    const ExpertWeights& ew = L.experts[e];
    linear_activation(ws.mixed.data() + e * M * d, M, ew.w1, ew.b1, L.activation, ws.hidden.data(), H);
    linear(ws.hidden.data(), M, ew.w2, ew.b2, ws.expert_out.data() + e * M * d, d);
  }
  // Emit each expert's output back to the group's tokens with the same weights,
  // experts in ascending order.
  for (int64_t j = 0; j < M; ++j) {
    const int32_t* rows = groups.rows + j * G;
    const float* w = ws.weights.data() + j * G * E;
    for (int s = 0; s < G; ++s) {
      if (rows[s] < 0) continue;
      float* ys = y + static_cast<int64_t>(rows[s]) * d;
      for (int e = 0; e < E; ++e) add_scaled(ys, ws.expert_out.data() + (e * M + j) * d, w[s * E + e], d);
    }
  }
}

}  // namespace moeasr::cpu
