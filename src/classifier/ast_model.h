// The Audio Spectrogram Transformer's network: patch embedding, pre-norm ViT
// layers with optional mixtures of adapters, pooling and the classification
// head, written on the op layer (on the CPU in this version). Immutable after
// construction; forward() opens its own backend and keeps its scratch on the
// stack of the call, so any number of threads may run it at once.
#pragma once

#include <memory>
#include <vector>

#include "formats/classifier_config.h"
#include "formats/safetensors.h"
#include "nn/feed_forward.h"
#include "nn/linear.h"

namespace moeasr {

class AstModel {
 public:
  // `weights` must already be validated against `config` (validate_tensors with
  // expected_ast_tensors); the model keeps views into it alive.
  AstModel(const AstConfig& config, std::shared_ptr<const SafeTensors> weights);

  const AstConfig& config() const { return config_; }

  // logits [num_labels] for input values [max_length, num_mel_bins] (fbank
  // already padded or truncated and normalized).
  std::vector<float> forward(const float* input_values) const;

  // The rows the patch embedding reads, im2col style: [num_patches, patch * patch]
  // with patch p = f * t_dim + t and column a * patch + b = values[t * tstride + b][f * fstride + a]
  // (the image is the transposed spectrogram: frequency x time).
  void im2col(const float* input_values, float* patches) const;

 private:
  struct Layer {
    LayerNorm before, after;
    Linear query, key, value, attention_out, intermediate, output;
    std::unique_ptr<FeedForward> adapter_self_attn, adapter_feed_forward;  // absent unless configured
  };

  AstConfig config_;
  std::shared_ptr<const SafeTensors> weights_;
  Linear patch_;                  // projection as [hidden, patch * patch], float32
  Tensor cls_, dist_, position_;  // [hidden], [hidden], [tokens, hidden]
  std::vector<Layer> layers_;
  LayerNorm final_norm_, head_norm_;  // head_norm_ unless config.head_layernorm is false
  Linear head_;
};

}  // namespace moeasr
