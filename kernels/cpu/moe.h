// Top-k Mixture-of-Experts FFN on the CPU, as WeNet's MoEFFNLayer computes it:
//   logits = x gate^T; top-k of the raw logits; weights = softmax over the k;
//   y = sum_k weight_k * w_2(act(w_1 x + b_1)) + b_2  of the chosen experts.
// Tokens are grouped by expert (counting sort) so each expert runs ONE GEMM
// over exactly the rows routed to it; no expert sees a token not routed to it.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "kernels/types.h"

namespace moeasr::cpu {

// Scratch reused across calls so a steady stream allocates nothing.
struct MoeWorkspace {
  std::vector<float> logits, gathered, hidden, expert_out, slot_weight;
  std::vector<int32_t> slot_expert;  // [n * k] chosen experts, best first per token
  std::vector<int32_t> row_slot;     // grouped row -> slot (token * k + j)
  std::vector<int32_t> counts, offsets, order;
};

// Routing only: for each token its top-k experts (best first) and softmax weights.
void moe_route(const float* x, int64_t n, const MoeView& layer, MoeWorkspace& ws);

// y[n, d] = MoE(x[n, d]). y must not alias x. `expert_load` (optional, E
// entries) is incremented by the number of tokens each expert received.
void moe_ffn(const float* x, int64_t n, const MoeView& layer, float* y, MoeWorkspace& ws,
             int64_t* expert_load = nullptr);

// The baseline for tests and benchmarks (MoeGemm::kPerExpertLoop): for each
// expert, its tokens gathered and one GEMM pair over them, computed the
// straightforward way (WeNet's loop). Same result.
void moe_ffn_per_expert_loop(const float* x, int64_t n, const MoeView& layer, float* y, MoeWorkspace& ws,
                             int64_t* expert_load = nullptr);

}  // namespace moeasr::cpu
