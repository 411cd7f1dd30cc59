// The model configuration, read from WeNet's train.yaml as-is.
//
// Only what the runtime needs is kept. Keys the runtime knows but that only
// matter for training (dropout, optimizers, ...) are ignored; a known key with a
// value the runtime cannot run is an Error(MOEASR_ERR_UNSUPPORTED) naming the
// key and the value; unknown keys inside encoder_conf / decoder_conf are
// returned as warnings.
#pragma once

#include <string>
#include <vector>

#include "core/activation.h"
#include "formats/transducer_config.h"

namespace YAML {
class Node;
}

namespace moeasr {

enum class ConvNorm { kBatchNorm, kLayerNorm };

// Which tokens a Mixture-of-Tokens layer mixes (mot_grouping).
enum class MotGrouping {
  kCrossExample,    // the same position of G consecutive examples of a batch (the paper's MoT)
  kWithinSequence,  // G consecutive frames of one utterance (or of one streaming chunk)
};

// The kind of a feed-forward layer (mlp_type), one type each in src/nn.
enum class FfnKind {
  kDense,    // position_wise_feed_forward
  kMoe,      // moe: top-k routed experts (WeNet's MoEFFNLayer)
  kMot,      // mot: Mixture of Tokens (encoder only)
  kSoftMoe,  // soft_moe: Soft MoE (encoder only)
};

struct FfnConfig {
  FfnKind kind = FfnKind::kDense;
  int hidden = 2048;        // linear_units (per expert for the mixtures)
  bool bias = true;         // mlp_bias (default false for mot)
  int num_experts = 1;      // n_expert (moe, mot, soft_moe)
  int top_k = 1;            // n_expert_activated (moe only)
  int group_size = 1;       // mot_group_size G (mot only)
  float temperature = 1.f;  // mot_temperature tau (mot only)
  MotGrouping grouping = MotGrouping::kCrossExample;  // mot_grouping (mot only)
  int slots_per_expert = 1;     // slots_per_expert (soft_moe only)
  bool soft_normalize = false;  // soft_moe_normalize (soft_moe only)
  Activation activation = Activation::kRelu;

  bool moe() const { return kind == FfnKind::kMoe; }
  bool has_experts() const { return kind != FfnKind::kDense; }
};

// Mixtures of bottleneck adapters next to encoder sublayers (moeasr extension,
// docs/model_format.md): adapter_type, adapter_placement, adapter_dim, ...
enum class AdapterType { kNone, kSoftMoa, kDenseMoa };
// adapter_normalize_mode (soft_moa with adapter_normalize): which normalized
// Soft MoE. kSoftMoe: the Soft MoE paper and vmoe (x and each slot's Φ column
// l2-normalized over d, the raw x dispatched). kPetlAst: PETL_AST's SoftMoA
// code (Φ normalized over the expert axis, x / (|x| + 1e-6), the normalized x
// dispatched). The same tensors, different models: a checkpoint runs the way
// it was trained.
enum class SlotNormalization { kSoftMoe, kPetlAst };

struct AdapterConfig {
  AdapterType type = AdapterType::kNone;
  int dim = 64;                  // adapter_dim (bottleneck r)
  int num_experts = 4;           // adapter_n_expert
  int slots_per_expert = 1;      // adapter_slots_per_expert (soft_moa)
  bool normalize = false;        // adapter_normalize (soft_moa)
  SlotNormalization normalize_mode = SlotNormalization::kSoftMoe;  // adapter_normalize_mode
  bool router_bias = false;      // adapter_router_bias (dense_moa: PETL_AST's router is nn.Linear with a bias)
  // adapter_placement: which sublayers get a mixture in parallel.
  bool self_attn = false, feed_forward = false, feed_forward_macaron = false;
};

// `encoder`: WeNet's ConformerEncoder, TransformerEncoder (MHA + FFN
// blocks, pre-norm: no macaron FFN, no convolution module, no norm_final),
// BranchformerEncoder (an attention branch and a cgMLP branch, merged) or
// EBranchformerEncoder (the same branches merged through a depthwise
// convolution, between macaron FFNs), EfficientConformerEncoder (Conformer
// blocks, some strided: they halve the frame rate; some with grouped
// attention: over groups of frames) or SqueezeformerEncoder (post-norm
// MHSA / FFN / conv / FFN blocks with a time reduction, squeezeformer.cc).
enum class EncoderType { kConformer, kTransformer, kBranchformer, kEBranchformer, kEfficientConformer, kSqueezeformer };
// Squeezeformer's time_reduction_layer_type: conv1d (depthwise kernel 5,
// stride 2, padding 3) or stream (kernel 1, stride 2: the even frames), each
// followed by a pointwise convolution.
enum class TimeReduction { kConv1d, kStream };
// Branchformer's merge_method: concat (merge_proj of [attention | cgMLP]) or
// fixed_ave (merge_proj of (1 - w) attention + w cgMLP, w = cgmlp_weight).
enum class MergeMethod { kConcat, kFixedAve };
// input_layer: Conv2dSubsampling4/6/8, LinearNoSubsampling (Linear + LayerNorm)
// or (efficientConformer only) Conv2dSubsampling2.
enum class InputLayer { kConv2d, kConv2d6, kConv2d8, kLinear, kConv2d2 };
// pos_enc_layer_type: rel_pos (x * sqrt(d); the sinusoid rows go to the
// attention), abs_pos (x * sqrt(d) + pe; the same rows also go to a rel-pos
// attention), no_pos (x unscaled; the attention's position rows are zero).
enum class PosEnc { kRelPos, kAbsPos, kNoPos };

struct EncoderConfig {
  EncoderType type = EncoderType::kConformer;
  InputLayer input_layer = InputLayer::kConv2d;
  PosEnc pos_enc = PosEnc::kRelPos;
  // selfattention_layer_type: rel_selfattn (RelPositionMultiHeadedAttention) or
  // selfattn (plain MultiHeadedAttention, no linear_pos / pos_bias). WeNet
  // picks the attention by this key alone, whatever pos_enc_layer_type says.
  bool rel_attention = true;
  int input_dim = 80;
  int d_model = 256;  // output_size
  int heads = 4;
  int num_blocks = 6;
  FfnConfig ffn;
  AdapterConfig adapter;
  bool macaron = true;
  bool use_cnn_module = true;
  int cnn_kernel = 15;
  bool causal = false;
  ConvNorm cnn_norm = ConvNorm::kBatchNorm;
  bool conv_bias = true;
  int conv_inner_factor = 2;
  bool query_bias = true;  // also the bias of linear_out (WeNet ties them)
  bool key_bias = true;
  bool value_bias = true;
  float norm_eps = 1e-5f;
  float conv_norm_eps = 1e-5f;
  bool final_norm = true;
  bool global_cmvn = false;
  int static_chunk_size = 0;
  bool use_dynamic_chunk = false;
  // Branchformer / E-Branchformer: the cgMLP branch (channel_proj1 to
  // cgmlp_linear_units, a convolutional spatial gating unit over half of them
  // with a depthwise kernel of cgmlp_conv_kernel, channel_proj2 back to d).
  int cgmlp_units = 2048;
  int cgmlp_kernel = 31;
  bool cgmlp_linear_after_conv = false;   // use_linear_after_conv
  bool gate_identity = true;              // gate_activation: identity
  Activation gate_activation = Activation::kRelu;  // otherwise
  MergeMethod merge = MergeMethod::kConcat;        // Branchformer only
  float cgmlp_weight = 0.5f;                       // fixed_ave only
  int merge_conv_kernel = 3;                       // E-Branchformer only
  bool use_ffn = true;                             // E-Branchformer only
  // efficientConformer (efficient_conf): the strided layers (stride_layer_idx,
  // increasing; stride 2 each), the layers with grouped attention
  // (group_layer_idx) over groups of group_size frames, and stride_kernel:
  // each strided layer divides the conv kernel of the layers after it by 2.
  std::vector<int> stride_layers;
  std::vector<int> group_layers;
  int group_size = 3;
  bool stride_kernel = true;
  // Squeezeformer: half the frame rate from block reduce_idx to block
  // recover_idx - 1; every sublayer's input first scaled per channel
  // (adaptive_scale); do_rel_shift: Transformer-XL's shift of the position
  // scores (squeezeformer_attention.cc).
  int reduce_idx = 5;
  int recover_idx = 11;
  TimeReduction time_reduction = TimeReduction::kConv1d;
  bool adaptive_scale = true;
  bool rel_shift = false;

  // Whether the model was trained for chunked (streaming) decoding, as
  // WeNet's recipes and runtime document it: chunk masks in training
  // (use_dynamic_chunk, or a static_chunk_size) and a causal convolution (a
  // non-causal one sees across chunk edges in training but not when
  // streaming). Chunked decoding of any other model runs, as WeNet's
  // forward_chunk would, but no longer matches what the model learned.
  bool trained_for_chunks() const {
    return (use_dynamic_chunk || static_chunk_size > 0) && (causal || !(use_cnn_module || branchformer()));
  }
  bool squeezeformer() const { return type == EncoderType::kSqueezeformer; }
  // Whether block i runs at half the frame rate (Squeezeformer's reduced blocks).
  bool reduced_block(int i) const { return squeezeformer() && i >= reduce_idx && i < recover_idx; }
  // Branchformer or E-Branchformer (the encoders with a cgMLP branch).
  bool branchformer() const { return type == EncoderType::kBranchformer || type == EncoderType::kEBranchformer; }
  int cgmlp_channels() const { return cgmlp_units / 2; }  // the gating unit's width
  // The chunk size to decode with when the application does not choose: full
  // attention (-1) for a model not trained for chunks, the static chunk size
  // for one trained with only that, else 16 (640 ms; WeNet's usual choice).
  int default_chunk_size() const {
    if (!trained_for_chunks()) return -1;
    return !use_dynamic_chunk && static_chunk_size > 0 ? static_chunk_size : 16;
  }

  bool efficient() const { return type == EncoderType::kEfficientConformer; }
  // Layer i of an efficientConformer: its stride (1 or 2), its attention's
  // group size (1: plain rel_selfattn), its conv kernel, and the frame rate
  // divisor at its input (the strides before it). 1, 1, cnn_kernel, 1 otherwise.
  int layer_stride(int i) const;
  int layer_group(int i) const;
  int layer_kernel(int i) const;
  int rate_before(int i) const;
  // The strides' product: encoder output frames are this many input layer frames.
  int total_stride() const { return rate_before(num_blocks); }

  int d_k() const { return d_model / heads; }
  int conv_channels() const { return conv_inner_factor * d_model / 2; }  // after GLU
  // The input layer's geometry (WeNet's subsampling_rate and right_context):
  // one output frame sees right_context() + 1 feature frames and the next one
  // starts subsampling_rate() frames later.
  int subsampling_rate() const;
  int right_context() const;
  // The input layer's frames for n feature frames (0 below right_context() + 1),
  // and the encoder's output frames: the same, halved (rounding up) by each
  // strided layer of an efficientConformer.
  int64_t embedded_frames(int64_t n) const;
  int64_t output_frames(int64_t n) const;
  // Frequency bins left after the convolutions (0 for linear).
  int subsampled_features() const;
};

enum class DecoderType { kNone, kTransformer, kBiTransformer };

struct DecoderConfig {
  DecoderType type = DecoderType::kBiTransformer;
  int heads = 4;
  int num_blocks = 6;
  int r_num_blocks = 0;  // bitransformer only
  FfnConfig ffn;
  bool query_bias = true;
  bool key_bias = true;
  bool value_bias = true;
  bool src_query_bias = true;
  bool src_key_bias = true;
  bool src_value_bias = true;
  float norm_eps = 1e-5f;
};

struct FbankConfig {
  int num_mel_bins = 80;
  float frame_length_ms = 25.f;
  float frame_shift_ms = 10.f;
  int sample_rate = 16000;
};

struct ModelConfig {
  EncoderConfig encoder;
  DecoderConfig decoder;
  TransducerConfig transducer;  // present for model: transducer (its CTC and decoder heads run as usual)
  FbankConfig fbank;
  int vocab_size = 0;  // output_dim (or the number of units)
  int blank_id = 0;
  int sos_id = -1;
  int eos_id = -1;
  // model_conf values, informational defaults for decoding
  float train_ctc_weight = 0.5f;
  float train_reverse_weight = 0.f;
  int subsampling_rate = 4;
  int right_context = 6;

  std::vector<std::string> warnings;  // unknown keys, ignored settings
};

// Parses train.yaml text. `vocab_size_hint` (the number of units, or -1) fills
// output_dim when the yaml lacks it and is checked against it otherwise;
// kVocabFromUnits checks a train.yaml alone, before there is a units.txt (as
// WeNet's recipes ship it, without output_dim): vocab_size is then 0 unless the
// yaml sets it. `source` names the file in messages.
constexpr int kVocabFromUnits = -2;
ModelConfig parse_model_config(const std::string& yaml_text, const std::string& source, int vocab_size_hint);
ModelConfig load_model_config(const std::string& path, int vocab_size_hint);

class YamlSection;
// encoder_conf.attention_heads, checked against e.d_model (already read
// from encoder_conf.`size_key`, which the messages name): heads divide it,
// and it is even (the sinusoidal position encoding).
void parse_attention_heads(YamlSection& s, EncoderConfig& e, const std::string& size_key, const std::string& source);

// encoder_conf of encoder: squeezeformer (squeezeformer_config.cc).
void parse_squeezeformer(YamlSection& s, EncoderConfig& e, const std::string& source);

// Parses an adapter set's adapters.yaml: an `adapter_conf` mapping with the
// adapter keys of encoder_conf (adapter_type required). Unknown keys are errors.
AdapterConfig parse_adapter_config(const std::string& yaml_text, const std::string& source);
// The `adapter_conf` mapping itself (also embedded in classifier.yaml).
AdapterConfig parse_adapter_conf(const YAML::Node& conf, const std::string& source);

}  // namespace moeasr
