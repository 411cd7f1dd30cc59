// Weights of the model's building blocks, as views into the weight file plus
// the few tensors derived once at load (re-ordered conv kernels, folded
// BatchNorm). Immutable after load; shared by every stream.
#pragma once

#include <string>
#include <vector>

#include "core/activation.h"
#include "core/tensor.h"
#include "kernels/cpu/dense_moa.h"
#include "kernels/cpu/moe.h"
#include "kernels/cpu/mot.h"
#include "kernels/cpu/soft_moe.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "nn/weight_precision.h"

namespace moeasr {

struct LinearWeights {
  cpu::WeightMatrix matrix;       // [out, in] in its compute type
  Tensor storage, scale, row_sum;  // keep the matrix's data alive
  Tensor bias;                    // [out] float32, or empty
  int64_t in() const { return matrix.k; }
  int64_t out() const { return matrix.n; }
  const float* bias_data() const { return bias.empty() ? nullptr : bias.data<float>(); }
};

struct LayerNormWeights {
  Tensor gamma, beta;
  float eps = 1e-5f;
};

// A mixture that is not top-k routed: Soft MoE (a Soft MoE FFN, or Soft-MoA
// adapters) or the dense Mixture of Adapters. Experts are w_2(act(w_1 x)).
struct MixtureWeights {
  enum class Kind { kNone, kSoft, kDense };
  Kind kind = Kind::kNone;
  int64_t d = 0, hidden = 0;
  int num_experts = 0, slots_per_expert = 1;
  Activation activation = Activation::kGelu;
  bool normalize = false;
  float scale = 1.f;  // phi_scale (soft, normalized)
  Tensor router;      // soft: Φ as [E * S, d] (rows l2-normalized when normalize); dense: gate [E, d]
  std::vector<LinearWeights> w1s, w2s;
  std::vector<cpu::ExpertWeights> experts;
  bool present() const { return kind != Kind::kNone; }
  cpu::SoftMoeView soft_view() const;
  cpu::DenseMoaView dense_view() const;
};

// Dense FFN (w_1, w_2), top-k MoE FFN (gate + experts), Mixture of Tokens
// (controller + experts) or Soft MoE FFN (phi + experts).
struct FfnWeights {
  MixtureWeights soft;                   // soft_moe
  FfnConfig config;
  LinearWeights w1, w2;                  // dense
  Tensor gate;                           // moe: [experts, d]
  Tensor controller;                     // mot: [experts, d]
  std::vector<LinearWeights> w1s, w2s;   // moe, mot: per expert
  std::vector<cpu::ExpertWeights> experts;
  cpu::MoeLayerView moe_view(int64_t d) const;
  cpu::MotLayerView mot_view(int64_t d) const;
};

// Mixtures of adapters in parallel to a Conformer layer's sublayers, each
// absent unless placed there: from train.yaml, or from an adapter set.
struct LayerAdapters {
  MixtureWeights ff_macaron, self_attn, ff;
};

struct AttentionWeights {
  LinearWeights q, k, v, out;
  LinearWeights pos;         // rel-pos only: linear_pos (no bias)
  Tensor pos_bias_u, pos_bias_v;  // rel-pos only: [heads, d_k]
};

struct ConvModuleWeights {
  LinearWeights pointwise1;  // [2C, d]
  LinearWeights pointwise2;  // [d, C]
  Tensor depthwise_t;        // [kernel, C] (derived: transposed)
  Tensor depthwise_bias;     // [C] or empty
  bool layer_norm = true;
  LayerNormWeights norm;     // cnn_module_norm: layer_norm
  Tensor bn_scale, bn_shift; // cnn_module_norm: batch_norm folded to an affine map (derived)
  Tensor initial_cache_row;  // [C]: GLU(pointwise1 bias), what zero left-padding becomes (derived)
};

struct ConformerLayerWeights {
  bool macaron = false, conv = false;
  FfnWeights ff_macaron, ff;
  LayerAdapters adapters;  // the model's own (absent unless train.yaml configures them)
  AttentionWeights attention;
  ConvModuleWeights conv_module;
  LayerNormWeights norm_ff_macaron, norm_mha, norm_conv, norm_ff, norm_final;
};

struct DecoderLayerWeights {
  AttentionWeights self_attn, src_attn;
  FfnWeights ff;
  LayerNormWeights norm1, norm2, norm3;
};

struct DecoderWeights {
  Tensor embedding;  // [vocab, d]
  std::vector<DecoderLayerWeights> layers;
  LayerNormWeights after_norm;
  LinearWeights output;
};

// Reads named tensors of a validated weight file into the structs above.
class WeightReader {
 public:
  explicit WeightReader(const SafeTensors& st, PrecisionPolicy policy = {}) : st_(st), policy_(policy) {}
  // A tensor as float32 (widened or dequantized when stored otherwise).
  Tensor tensor(const std::string& name) const;
  Tensor optional(const std::string& name) const;  // empty when absent
  // A Linear layer in the compute type the policy picks.
  LinearWeights linear(const std::string& prefix, bool expert = false) const;
  LayerNormWeights layer_norm(const std::string& prefix, float eps) const;
  FfnWeights ffn(const std::string& prefix, const FfnConfig& config) const;
  // Soft MoE with experts of `hidden` units (tensors phi, phi_scale, experts.*).
  MixtureWeights soft_moe(const std::string& prefix, int64_t d, int64_t hidden, int experts, int slots,
                          bool normalize, Activation activation) const;
  // Dense MoA (tensors gate.weight, experts.*).
  MixtureWeights dense_moa(const std::string& prefix, int64_t d, int64_t hidden, int experts,
                           Activation activation) const;
  // The adapter mixture `config` describes (GELU adapters with biases).
  MixtureWeights adapter(const std::string& prefix, int64_t d, const AdapterConfig& config) const;
  // All of one layer's adapters (`layer` = "encoder.encoders.{i}").
  LayerAdapters layer_adapters(const std::string& layer, int64_t d, const AdapterConfig& config) const;
  AttentionWeights attention(const std::string& prefix, bool rel_pos) const;
  // Expert linears prefix.experts.{e}.w_1 / w_2 into m.
  void load_experts(const std::string& prefix, int experts, MixtureWeights& m) const;
  ConvModuleWeights conv_module(const std::string& prefix, const EncoderConfig& config) const;
  DecoderWeights decoder(const std::string& prefix, int blocks, const DecoderConfig& config) const;

 private:
  const SafeTensors& st_;
  PrecisionPolicy policy_;
};

}  // namespace moeasr
