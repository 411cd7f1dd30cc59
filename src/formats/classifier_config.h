// The Audio Spectrogram Transformer classifier's configuration (classifier.yaml,
// docs/model_format.md) and the tensors it implies, by the names of Hugging
// Face's ASTForAudioClassification state_dict (plus moeasr's adapter mixtures).
//
// classifier.yaml is a new, small format: unknown keys are errors, every value
// is range-checked, and a value the runtime cannot run (hidden_act other than
// gelu, ...) is MOEASR_ERR_UNSUPPORTED naming the key.
#pragma once

#include <string>
#include <vector>

#include "formats/model_config.h"
#include "formats/weight_spec.h"

namespace moeasr {

enum class AstPooling {
  kClsDist,  // (h[CLS] + h[DIST]) / 2, Hugging Face's ASTForAudioClassification
  kMean,     // mean of the patch tokens
  kCls,      // h[CLS], PETL_AST's final_output CLS
  kMeanAll,  // mean of all tokens (CLS, DIST and patches), PETL_AST's final_output ALL
};
enum class AstScore { kSigmoid, kSoftmax };

struct AstConfig {
  // frontend: Kaldi fbank (hanning, 25/10 ms) of the samples in [-1, 1], padded
  // with zero frames or truncated to max_length, then (x - mean) / (2 std).
  int sample_rate = 16000;
  int num_mel_bins = 128;
  int max_length = 1024;
  float mean = -4.2677393f;
  float std = 4.5689974f;
  // encoder (ViT)
  int hidden = 768;
  int layers = 12;
  int heads = 12;
  int intermediate = 3072;
  float layer_norm_eps = 1e-12f;
  int patch_size = 16;
  int frequency_stride = 10;
  int time_stride = 10;
  // head
  int num_labels = 0;
  AstPooling pooling = AstPooling::kClsDist;
  AstScore score = AstScore::kSigmoid;
  // head.layernorm: HF's classifier LayerNorm before the dense layer; PETL_AST's
  // head is the Linear alone (false: no classifier.layernorm tensors).
  bool head_layernorm = true;
  // Mixtures of adapters (adapter_conf; placements self_attn / feed_forward).
  AdapterConfig adapter;
  // adapter_conf.adapter_self_attn_twice: the self_attn mixture's output is
  // added to the residual after attention AND again after the MLP, as
  // PETL_AST's code does for Pfeiffer adapters at location MHSA.
  bool adapter_self_attn_twice = false;

  int f_dim() const { return (num_mel_bins - patch_size) / frequency_stride + 1; }
  int t_dim() const { return (max_length - patch_size) / time_stride + 1; }
  int num_patches() const { return f_dim() * t_dim(); }
  int num_tokens() const { return num_patches() + 2; }  // CLS, DIST, patches
  int d_head() const { return hidden / heads; }
};

// Parses classifier.yaml text; `source` names the file in messages. Throws
// Error(MOEASR_ERR_FORMAT) for malformed or inconsistent values and
// Error(MOEASR_ERR_UNSUPPORTED) for valid values this runtime cannot run.
AstConfig parse_ast_config(const std::string& yaml_text, const std::string& source);

// Every tensor the configuration implies, with its shape.
std::vector<ExpectedTensor> expected_ast_tensors(const AstConfig& config);

// The name prefix of encoder layer i ("audio_spectrogram_transformer.encoder.layer.{i}").
std::string ast_layer_prefix(int i);

}  // namespace moeasr
