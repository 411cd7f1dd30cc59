// Soft Mixture of Experts ("From Sparse to Soft Mixtures of Experts"): for
// each example of the batch (a stream's chunk, or an utterance; FfnBatch)
//   logits = x Φ            (normalize: scale * l2norm(x) l2norm(Φ))
//   D = softmax over the example's tokens, C = softmax over all slots per token
//   slot inputs = Dᵀ x, slot outputs = expert_e(its slots), y = C · slot outputs.
// Normalization follows the paper and vmoe (SlotNormalization::kSoftMoe: each
// slot's Φ column over d, F.normalize's max(|v|, 1e-12)), or PETL_AST's SoftMoA
// (kPetlAst: Φ over the expert axis with v / (|v| + 1e-6), and the normalized
// x is also what is dispatched: slot inputs = Dᵀ l2norm(x)). The runtime
// normalizes x with max(|x|, 1e-12) in both: against + 1e-6 a relative change
// of 1e-6 / |x|, below float32 resolution for LayerNorm outputs.
// Examples never mix: a token's output depends only on its example's tokens.
// Each expert runs ONE GEMM pair over its slots of every example in the
// call, so a batch of streams costs one expert GEMM, not one per stream.
// A Soft MoE FFN (mlp_type: soft_moe), and the Soft-MoA adapter mixture.
#pragma once

#include <string>

#include "formats/model_config.h"
#include "nn/experts.h"
#include "nn/feed_forward.h"

namespace moeasr {

class SoftMoe final : public FeedForward {
 public:
  // Tensors prefix.phi [d, E, S], prefix.phi_scale (normalize), prefix.experts.*.
  SoftMoe(const WeightReader& r, const std::string& prefix, int64_t d, int experts, int slots_per_expert,
          bool normalize, Activation activation, SlotNormalization mode = SlotNormalization::kSoftMoe);
  // Uses scratch.logits, weights, gathered, mixed and hidden.
  void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& scratch,
               int64_t* expert_load) const override;

  int64_t slots() const { return phi_.out(); }
  // Dispatch [n, slots] (each column sums to 1 over the tokens) and combine
  // [n, slots] (each row sums to 1 over the slots) of ONE group x [n, d].
  void weights(Backend& be, const Tensor& x, Tensor& dispatch, Tensor& combine, Tensor& normalized) const;

 private:
  void logits(Backend& be, const Tensor& x, Tensor& out, Tensor& normalized) const;

  int64_t d_;
  int slots_per_expert_;
  bool normalize_;
  bool dispatch_normalized_;  // kPetlAst: slot inputs from l2norm(x)
  float scale_ = 1.f;  // phi_scale (normalize)
  Linear phi_;         // Φ as [E * S, d], one row per slot (normalized at load when normalize)
  Experts experts_;
};

}  // namespace moeasr
