// WeNet's (Bi)TransformerDecoder, used to rescore CTC n-best hypotheses
// (attention rescoring). All hypotheses of an utterance run in one batched
// forward: their token rows are stacked ([sum of lengths, d]) for the
// position-wise ops; self-attention (causal) and cross-attention run per
// hypothesis. Padding is never needed, so the result equals WeNet's padded
// batch on every valid position.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/attention.h"
#include "model/config.h"
#include "model/layers.h"
#include "model/positional_encoding.h"
#include "ops/ops.h"

namespace moeasr {

struct DecoderWorkspace {
  Tensor x, h, q, k, v, att, y, mem_k, mem_v, logits;
  ops::FfnWorkspace ffn;
  cpu::AttentionScratch attention;
};

struct HypothesisScores {
  double l2r = 0;  // sum of log p(token) + log p(eos), left-to-right decoder
  double r2l = 0;  // same on the reversed tokens with the right-to-left decoder (0 if not run)
};

class AttentionDecoder {
 public:
  AttentionDecoder(const ModelConfig& config, const SafeTensors& weights, const PrecisionPolicy& precision = {});

  bool bidirectional() const { return has_right_; }
  // Scores each hypothesis against the encoder output `memory` ([frames, d]).
  // The right-to-left decoder runs only when `with_r2l` and the model has one.
  std::vector<HypothesisScores> score(const Tensor& memory, const std::vector<std::vector<int>>& hyps, bool with_r2l,
                                      DecoderWorkspace& ws) const;

  // Log-probabilities [sum of (len + 1), vocab] of one direction for the given
  // token sequences (each prefixed with <sos> internally). Exposed for tests.
  void log_probs(const DecoderWeights& decoder, const Tensor& memory, const std::vector<std::vector<int>>& inputs,
                 DecoderWorkspace& ws, Tensor& out) const;
  const DecoderWeights& left() const { return left_; }
  const DecoderWeights& right() const { return right_; }

 private:
  int64_t d_;
  int heads_;
  int vocab_, sos_, eos_;
  bool has_right_ = false;
  DecoderWeights left_, right_;
  PositionalEncoding pos_enc_;
};

}  // namespace moeasr
