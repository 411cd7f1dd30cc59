// The RNN-T half of a WeNet `model: transducer` (train.yaml's predictor,
// predictor_conf, joint and joint_conf): the prediction network that reads
// the tokens emitted so far and the joiner that adds its output to an
// encoder frame's and projects the sum onto the vocabulary. The rest of such
// a model (encoder, CTC head, attention decoder) is an ordinary U2++ model.
#pragma once

#include <string>
#include <vector>

#include "core/activation.h"

namespace YAML {
class Node;
}

namespace moeasr {

// `predictor`: RNNPredictor (embedding, stacked LSTM, projection),
// EmbeddingPredictor (a multi-head weighted sum of the last history_size + 1
// token embeddings, Linear, LayerNorm, activation) or ConvPredictor (a
// depthwise convolution over the same window, LayerNorm, activation).
enum class PredictorType { kRnn, kEmbedding, kConv };

struct PredictorConfig {
  PredictorType type = PredictorType::kRnn;
  int embed_size = 256;
  int output_size = 256;
  // rnn
  int hidden_size = 256;
  int num_layers = 1;
  bool bias = true;  // rnn: the LSTM's biases; embedding: pos_embed's (unused by WeNet); conv: the convolution's
  // embedding and conv
  int history_size = 2;  // the window is history_size + 1 tokens
  int heads = 1;         // embedding only (n_head)
  Activation activation = Activation::kSwish;
  float norm_eps = 1e-5f;  // layer_norm_epsilon

  int context() const { return history_size + 1; }
};

// `joint: transducer_joint` with joint_mode add and no HAT output.
struct JointConfig {
  int enc_size = 256;   // enc_output_size
  int pred_size = 256;  // pred_output_size
  int join_dim = 512;
  bool prejoin = true;    // prejoin_linear: enc_ffn and pred_ffn project both to join_dim
  bool postjoin = false;  // postjoin_linear: post_ffn after the sum, before the activation
  Activation activation = Activation::kTanh;
};

struct TransducerConfig {
  bool present = false;  // model: transducer
  int blank = 0;         // WeNet's init_model builds every Transducer with blank 0
  PredictorConfig predictor;
  JointConfig joint;
};

// Reads predictor/predictor_conf/joint/joint_conf from train.yaml's root for a
// model whose encoder has `encoder_size` outputs. Unsupported choices are
// Error(MOEASR_ERR_UNSUPPORTED), inconsistent sizes Error(MOEASR_ERR_FORMAT);
// unknown keys of predictor_conf / joint_conf go to `warnings`.
TransducerConfig parse_transducer_config(const YAML::Node& root, int encoder_size, const std::string& source,
                                         std::vector<std::string>* warnings);

}  // namespace moeasr
