// WeNet's (Bi)TransformerDecoder, used to rescore CTC n-best hypotheses
// (attention rescoring), written once on the op layer. All hypotheses of an
// utterance run in one batched forward over the distinct prefixes they
// contain: with causal self-attention the decoder state at a position depends
// only on the tokens up to it, so a prefix shared by several hypotheses (the
// n-best of a prefix beam search share most of theirs) is computed once.
// Position-wise ops and cross-attention run over all prefixes stacked;
// self-attention is one batched op with a job per hypothesis for the prefixes
// it adds. Padding is never needed, so the result equals WeNet's padded batch
// on every valid position.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "formats/model_config.h"
#include "nn/feed_forward.h"
#include "nn/linear.h"
#include "nn/positional_encoding.h"
#include "ops/backend.h"

namespace moeasr {

// Scratch of rescoring calls, owned by a worker, on its device.
struct DecoderWorkspace {
  Tensor x, h, q, k, v, att, y, mem_k, mem_v, logits, path_k, path_v, picked;
  FfnScratch ffn;
};

struct HypothesisScores {
  double l2r = 0;  // sum of log p(token) + log p(eos), left-to-right decoder
  double r2l = 0;  // same on the reversed tokens with the right-to-left decoder (0 if not run)
};

class AttentionDecoder {
 public:
  AttentionDecoder(const ModelConfig& config, const WeightReader& weights, MoeGemm moe_gemm);

  bool bidirectional() const { return right_ != nullptr; }
  // Scores each hypothesis against the encoder output `memory` ([frames, d],
  // on be's device). The right-to-left decoder runs only when `with_r2l` and
  // the model has one.
  std::vector<HypothesisScores> score(Backend& be, const Tensor& memory, const std::vector<std::vector<int>>& hyps,
                                      bool with_r2l, DecoderWorkspace& ws) const;

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

  // One direction's stack of decoder layers.
  struct Direction;
  // Log-probabilities [prefixes.size(), vocab] of one direction (left or
  // right): row r is the distribution of the token that follows prefix r.
  // Exposed for tests.
  void log_probs(Backend& be, bool right, const Tensor& memory, const Prefixes& prefixes, DecoderWorkspace& ws,
                 Tensor& out) const;

  ~AttentionDecoder();

 private:
  const Direction& direction(bool right) const { return right ? *right_ : *left_; }

  int64_t d_;
  int heads_;
  int vocab_, sos_, eos_;
  std::unique_ptr<Direction> left_, right_;
  PositionalEncoding pos_enc_;
};

}  // namespace moeasr
