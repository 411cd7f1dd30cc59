// The Mixture of Tokens FFN ("Mixture of Tokens: Continuous MoE through
// Cross-Example Aggregation", arXiv 2310.15961). Tokens come in groups of G
// (nn/token_groups.h); for every group and expert e:
//   w[g, e] = softmax over the group's tokens g of (x_g . c_e) / tau
//   mixed_e = sum_g w[g, e] x_g          (one token per expert and group)
//   y_g    += w[g, e] * expert_e(mixed_e)
// Each expert runs ONE GEMM over the mixed tokens of all groups, so the layer
// costs E / G expert evaluations per token. Which rows form a group follows
// mot_grouping: G consecutive frames of one example (within_sequence), or
// the same position of G examples of the batch (cross_example, allowed only
// when the batch says TokenMixing::kAcrossExamples).
#pragma once

#include <string>

#include "nn/experts.h"
#include "nn/feed_forward.h"
#include "nn/token_groups.h"

namespace moeasr {

class MotFfn final : public FeedForward {
 public:
  MotFfn(const WeightReader& r, const std::string& prefix, const FfnConfig& config, int64_t d);
  // Uses every scratch tensor.
  void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& scratch,
               int64_t* expert_load) const override;
  bool mixes_examples() const override { return grouping_ == MotGrouping::kCrossExample; }

  // The groups of a batch's rows (Error(MOEASR_ERR_UNSUPPORTED) for a
  // cross-example layer in a batch that does not allow mixing).
  TokenGroups groups(const FfnBatch& batch) const;
  // The merge weights w [groups * G, experts] (0 on masked slots).
  void weights(Backend& be, const Tensor& x, const TokenGroups& groups, Tensor& logits, Tensor& w) const;

 private:
  int64_t d_;
  int group_size_;
  float temperature_;
  MotGrouping grouping_;
  Linear controller_;  // [experts, d], no bias
  Experts experts_;
};

}  // namespace moeasr
