// Soft Mixture of Experts on the CPU ("From Sparse to Soft Mixtures of
// Experts"): for each group of tokens (an utterance, or one chunk of one
// stream)
//   logits = x Φ            (normalize: scale * l2norm(x) l2norm(Φ))
//   D = softmax over the group's tokens, C = softmax over all slots per token
//   slot inputs = Dᵀ x, slot outputs = expert_e(its slots), y = C · slot outputs.
// Groups never mix: a token's output depends only on the tokens of its group.
// Each expert runs ONE GEMM pair over its slots of every group in the call, so
// a batch of streams costs one expert GEMM, not one per stream.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "kernels/cpu/moe.h"

namespace moeasr::cpu {

struct SoftMoeView {
  int64_t d = 0;
  int64_t hidden = 0;
  int num_experts = 0;
  int slots_per_expert = 0;
  Activation activation = Activation::kRelu;
  // [num_experts * slots_per_expert, d]: Φ [d, E, S] transposed so slot j is row
  // j (expert j / S); with `normalize` each row is already l2-normalized.
  const float* phi = nullptr;
  bool normalize = false;
  float scale = 1.f;  // multiplies the logits when normalize
  const ExpertWeights* experts = nullptr;
  int64_t slots() const { return int64_t{num_experts} * slots_per_expert; }
};

// Scratch reused across calls so a steady stream allocates nothing.
struct SoftMoeWorkspace {
  std::vector<float> xn, dispatch, combine, slots_in, hidden, slots_out, group_slots;
  std::vector<int64_t> groups;  // non-empty groups' offsets
};

// Dispatch and combine weights of ONE group of n tokens: dispatch[n, slots]
// (each column sums to 1 over the tokens), combine[n, slots] (each row sums
// to 1 over the slots). `xn` is scratch.
void soft_moe_weights(const float* x, int64_t n, const SoftMoeView& layer, float* dispatch, float* combine,
                      std::vector<float>& xn);

// y[n, d] = SoftMoE(x[n, d]) with groups given by offsets[0..num_groups]
// (offsets[0] = 0, offsets[num_groups] = n, non-decreasing; empty groups are
// allowed). y must not alias x.
void soft_moe(const float* x, const int64_t* offsets, int num_groups, const SoftMoeView& layer, float* y,
              SoftMoeWorkspace& ws);

}  // namespace moeasr::cpu
