// WeNet's (Bi)TransformerDecoder, used to rescore CTC n-best hypotheses
// (attention rescoring). All hypotheses of an utterance run in one batched
// forward over the distinct prefixes they contain: with causal
// self-attention the decoder state at a position depends only on the tokens
// up to it, so a prefix shared by several hypotheses (the n-best of a prefix
// beam search share most of theirs) is computed once. Position-wise ops and
// cross-attention run over all prefixes stacked; self-attention runs per
// hypothesis for the prefixes it adds. Padding is never needed, so the
// result equals WeNet's padded batch on every valid position.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/attention.h"
#include "formats/model_config.h"
#include "nn/layers.h"
#include "nn/positional_encoding.h"
#include "ops/ops.h"

namespace moeasr {

struct DecoderWorkspace {
  Tensor x, h, q, k, v, att, y, mem_k, mem_v, logits, path_k, path_v;
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

  // The distinct prefixes of token sequences, each prefixed with <sos>:
  // node r is one prefix (<sos>, t_0, .., t_{j-1}) ending in token[r] at
  // position depth[r]. Sequence i's position j is node path[i][j] (len + 1
  // positions); the nodes it adds, from position first_new[i] on, are
  // consecutive rows.
  struct Prefixes {
    std::vector<int> token;
    std::vector<int64_t> depth;
    std::vector<std::vector<int64_t>> path;
    std::vector<int64_t> first_new;
    int64_t size() const { return static_cast<int64_t>(token.size()); }
  };
  Prefixes prefixes(const std::vector<std::vector<int>>& sequences) const;

  // Log-probabilities [prefixes.size(), vocab] of one direction: row r is the
  // distribution of the token that follows prefix r. Exposed for tests.
  void log_probs(const DecoderWeights& decoder, const Tensor& memory, const Prefixes& prefixes, DecoderWorkspace& ws,
                 Tensor& out) const;
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
