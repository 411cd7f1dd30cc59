// The top-k Mixture-of-Experts FFN (WeNet's MoEFFNLayer):
//   logits = gate x; top-k of the raw logits; weights = softmax over the k;
//   y = sum_k weight_k * expert_k(x).
// Routing, grouping by expert and the expert GEMMs are one backend op
// (kernels/cpu/moe.h, kernels/cuda moe_ffn), since that is where the MoE's
// speed is won: each expert runs one GEMM over exactly the tokens routed to it.
#pragma once

#include <string>

#include "nn/experts.h"
#include "nn/feed_forward.h"

namespace moeasr {

class MoeFfn final : public FeedForward {
 public:
  MoeFfn(const WeightReader& r, const std::string& prefix, const FfnConfig& config, int64_t d, MoeGemm gemm);
  void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& scratch,
               int64_t* expert_load) const override;
  int routed_experts() const override { return experts_.size(); }
  int64_t expert_bytes() const override { return experts_.bytes_per_expert(); }
  MoeView view() const;

 private:
  int64_t d_;
  int top_k_;
  MoeGemm gemm_;
  Tensor gate_;  // [experts, d] float32
  Experts experts_;
};

}  // namespace moeasr
