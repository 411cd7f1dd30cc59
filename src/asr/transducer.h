// The RNN-T half of WeNet's Transducer, written once on the op layer: the
// predictor (an LSTM stack, or the embedding or convolution over the last
// tokens' embeddings) that reads one token at a time, and the joiner that
// turns encoder frames plus the predictor's output into vocabulary logits.
// Immutable after load; a search keeps its own PredictorState per hypothesis.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "formats/model_config.h"
#include "nn/linear.h"
#include "nn/weight_reader.h"
#include "ops/backend.h"

namespace moeasr {

// What the predictor remembers between tokens, on the model's device: per
// LSTM layer h and c ([1, hidden]); or the last history_size embeddings
// ([history_size, embed]) of the window predictors.
struct PredictorState {
  std::vector<Tensor> h, c;
  Tensor history;
};

// Scratch of predictor and joiner calls, on the device.
struct TransducerWorkspace {
  Tensor x, gates, pair, window, mixed, joined, post;
};

class Transducer {
 public:
  Transducer(const ModelConfig& config, const WeightReader& weights);

  int blank() const { return blank_; }
  int64_t join_dim() const { return join_dim_; }

  // The state before the first token (zeros).
  PredictorState initial_state(Backend& be) const;
  // Reads `token` in state `in`: `out` becomes the state after it and
  // `projected` ([1, join_dim]) the predictor's output as the joiner adds it
  // (after pred_ffn when the joiner has pre-join projections). `out` may be `in`.
  void step(Backend& be, int token, const PredictorState& in, PredictorState& out, Tensor& projected,
            TransducerWorkspace& ws) const;
  // Encoder rows [frames, d] as the joiner adds them ([frames, join_dim]).
  void project_encoder(Backend& be, const Tensor& rows, Tensor& out) const;
  // Logits [rows, vocab] of `rows` ([rows, join_dim]) each joined with the
  // one row `single` ([1, join_dim]): projected encoder rows with one
  // predictor output (the greedy search), or the beam's predictor outputs with
  // one encoder frame (the beam search, one GEMM for all hypotheses). The join
  // adds the two, which commutes, so both uses are WeNet's joint.
  void joint(Backend& be, const Tensor& rows, const Tensor& single, Tensor& logits, TransducerWorkspace& ws) const;

 private:
  void lstm_step(Backend& be, const PredictorState& in, PredictorState& out, TransducerWorkspace& ws) const;
  // The window predictors on ws.window ([history + 1, embed], this token's embedding last).
  void window_step(Backend& be, PredictorState& out, TransducerWorkspace& ws) const;

  PredictorConfig predictor_;
  int blank_;
  int64_t join_dim_;
  Tensor embed_;                         // [vocab, embed] float32
  std::vector<Linear> w_ih_, w_hh_;      // per LSTM layer: [4 hidden, in] with bias_ih / bias_hh
  Linear projection_;                    // rnn: hidden -> output
  Tensor mix_weight_;                    // embedding: pos_embed.weight re-laid [heads, context, embed] (host-derived)
  Linear ffn_;                           // embedding: Linear(embed, embed)
  Tensor conv_weight_, conv_bias_;       // conv: [embed, context] (host-derived), [embed] or empty
  LayerNorm norm_;                       // embedding and conv
  Linear enc_ffn_, pred_ffn_, post_ffn_, out_;
  Activation joint_activation_;
};

}  // namespace moeasr
