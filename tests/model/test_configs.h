// A small WeNet-style train.yaml used by the config and model-directory tests.
#pragma once

#include <string>

namespace moeasr::test {

inline std::string tiny_moe_yaml() {
  return R"(# a tiny U2++ MoE conformer
input_dim: 80
output_dim: 10
encoder: conformer
encoder_conf:
  output_size: 16
  attention_heads: 2
  linear_units: 24
  num_blocks: 2
  dropout_rate: 0.1
  positional_dropout_rate: 0.1
  attention_dropout_rate: 0.1
  input_layer: conv2d
  normalize_before: true
  cnn_module_kernel: 8
  use_cnn_module: true
  activation_type: swish
  pos_enc_layer_type: rel_pos
  selfattention_layer_type: rel_selfattn
  causal: true
  use_dynamic_chunk: true
  cnn_module_norm: layer_norm
  use_dynamic_left_chunk: false
  mlp_type: moe
  n_expert: 4
  n_expert_activated: 2
decoder: bitransformer
decoder_conf:
  attention_heads: 2
  linear_units: 24
  num_blocks: 1
  r_num_blocks: 1
  dropout_rate: 0.1
  positional_dropout_rate: 0.1
  self_attention_dropout_rate: 0.1
  src_attention_dropout_rate: 0.1
  mlp_type: moe
  n_expert: 4
  n_expert_activated: 2
tokenizer: char
tokenizer_conf:
  special_tokens:
    <blank>: 0
    <unk>: 1
    <sos>: 9
    <eos>: 9
ctc: ctc
ctc_conf:
  ctc_blank_id: 0
cmvn: global_cmvn
cmvn_conf:
  cmvn_file: data/train/global_cmvn
  is_json_cmvn: true
model: asr_model
model_conf:
  ctc_weight: 0.3
  lsm_weight: 0.1
  length_normalized_loss: false
  reverse_weight: 0.3
dataset: asr
dataset_conf:
  fbank_conf:
    num_mel_bins: 80
    frame_shift: 10
    frame_length: 25
    dither: 1.0
optim: adam
optim_conf:
  lr: 0.001
)";
}

inline std::string tiny_units() {
  return "<blank> 0\n<unk> 1\na 2\nb 3\nc 4\n\xe2\x96\x81 5\n\xe4\xbd\xa0 6\n\xe5\xa5\xbd 7\n' 8\n<sos/eos> 9\n";
}

}  // namespace moeasr::test
