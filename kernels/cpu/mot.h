// Mixture of Tokens FFN on the CPU ("Mixture of Tokens: Continuous MoE
// through Cross-Example Aggregation", arXiv 2310.15961). Tokens come in groups
// of G; for every group and expert e:
//   w[g, e] = softmax over the group's tokens g of (x_g . c_e) / tau
//   mixed_e = sum_g w[g, e] x_g          (one token per expert and group)
//   y_g    += w[g, e] * expert_e(mixed_e)
// Each expert runs ONE GEMM over the mixed tokens of all groups (n / G rows),
// so the layer costs E / G expert evaluations per token. Which rows form a
// group is the caller's decision (MotGroups): the same position of G examples,
// or G consecutive frames of one utterance; a group may have masked slots.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "kernels/cpu/moe.h"

namespace moeasr::cpu {

struct MotLayerView {
  int64_t d = 0;
  int64_t hidden = 0;
  int num_experts = 0;
  int group_size = 0;       // G
  float temperature = 1.f;  // tau > 0
  Activation activation = Activation::kRelu;
  const float* controller = nullptr;  // [num_experts, d] (c transposed, nn.Linear layout)
  const ExpertWeights* experts = nullptr;
};

// num_groups x G row indices into x; -1 marks a masked slot (padding). A row
// appears in at most one group; rows in no group get y = 0.
struct MotGroups {
  const int32_t* rows = nullptr;
  int64_t num_groups = 0;
};

// Scratch reused across calls so a steady stream allocates nothing.
struct MotWorkspace {
  std::vector<float> logits;      // [n, E]
  std::vector<float> weights;     // [num_groups * G, E]; 0 on masked slots
  std::vector<float> mixed;       // [E, num_groups, d]
  std::vector<float> hidden;      // [num_groups, hidden]
  std::vector<float> expert_out;  // [E, num_groups, d]
};

// The merge weights only: ws.weights[(group * G + slot) * E + e].
void mot_weights(const float* x, int64_t n, const MotLayerView& layer, const MotGroups& groups, MotWorkspace& ws);

// y[n, d] = MoT(x[n, d]). y must not alias x.
void mot_ffn(const float* x, int64_t n, const MotLayerView& layer, const MotGroups& groups, float* y,
             MotWorkspace& ws);

}  // namespace moeasr::cpu
