#include "formats/weight_spec.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace moeasr {

namespace {

// Thrown by SpecBuilder::add past its limit; becomes an Error in expected_tensors.
struct TooManyTensors {};

class SpecBuilder {
 public:
  explicit SpecBuilder(size_t limit) : limit_(limit) {}

  void add(const std::string& name, Shape shape, bool quantizable = false) {
    if (out.size() >= limit_) throw TooManyTensors{};
    out.push_back({name, std::move(shape), quantizable});
  }

  void linear(const std::string& prefix, int64_t in, int64_t out_features, bool bias) {
    add(prefix + ".weight", {out_features, in}, true);
    if (bias) add(prefix + ".bias", {out_features});
  }

  void layer_norm(const std::string& prefix, int64_t d) {
    add(prefix + ".weight", {d});
    add(prefix + ".bias", {d});
  }

  void experts(const std::string& prefix, int64_t d, int64_t hidden, int count, bool bias) {
    for (int e = 0; e < count; ++e) {
      const std::string expert = prefix + ".experts." + std::to_string(e);
      linear(expert + ".w_1", d, hidden, bias);
      linear(expert + ".w_2", hidden, d, bias);
    }
  }

  // Soft MoE: slot parameters Φ [d, E, S] (+ the learned logit scale when normalized).
  void soft_moe(const std::string& prefix, int64_t d, int64_t hidden, int count, int slots, bool normalize,
                bool bias) {
    add(prefix + ".phi", {d, count, slots});
    if (normalize) add(prefix + ".phi_scale", {1});
    experts(prefix, d, hidden, count, bias);
  }

  void adapter(const std::string& prefix, int64_t d, const AdapterConfig& a) {
    if (a.type == AdapterType::kSoftMoa) {
      soft_moe(prefix, d, a.dim, a.num_experts, a.slots_per_expert, a.normalize, true);
    } else if (a.type == AdapterType::kDenseMoa) {
      add(prefix + ".gate.weight", {a.num_experts, d});
      if (a.router_bias) add(prefix + ".gate.bias", {a.num_experts});
      experts(prefix, d, a.dim, a.num_experts, true);
    }
  }

  void ffn(const std::string& prefix, int64_t d, const FfnConfig& f) {
    if (f.kind == FfnKind::kSoftMoe) {
      soft_moe(prefix, d, f.hidden, f.num_experts, f.slots_per_expert, f.soft_normalize, f.bias);
      return;
    }
    if (f.kind == FfnKind::kDense) {
      linear(prefix + ".w_1", d, f.hidden, f.bias);
      linear(prefix + ".w_2", f.hidden, d, f.bias);
      return;
    }
    // MoE router or MoT controller: nn.Linear(d, E, bias=False) layout [E, d],
    // kept float32 like the router (it weighs every token).
    add(prefix + (f.kind == FfnKind::kMot ? ".controller.weight" : ".gate.weight"), {f.num_experts, d});
    for (int e = 0; e < f.num_experts; ++e) {
      const std::string expert = prefix + ".experts." + std::to_string(e);
      linear(expert + ".w_1", d, f.hidden, f.bias);
      linear(expert + ".w_2", f.hidden, d, f.bias);
    }
  }

  // WeNet's MultiHeadedAttention: linear_out's bias follows query_bias.
  void attention(const std::string& prefix, int64_t d, bool q_bias, bool k_bias, bool v_bias) {
    linear(prefix + ".linear_q", d, d, q_bias);
    linear(prefix + ".linear_k", d, d, k_bias);
    linear(prefix + ".linear_v", d, d, v_bias);
    linear(prefix + ".linear_out", d, d, q_bias);
  }

  void decoder(const std::string& prefix, const ModelConfig& c, int blocks) {
    const DecoderConfig& dc = c.decoder;
    const int64_t d = c.encoder.d_model, v = c.vocab_size;
    add(prefix + ".embed.0.weight", {v, d});
    for (int i = 0; i < blocks; ++i) {
      const std::string l = prefix + ".decoders." + std::to_string(i);
      attention(l + ".self_attn", d, dc.query_bias, dc.key_bias, dc.value_bias);
      attention(l + ".src_attn", d, dc.src_query_bias, dc.src_key_bias, dc.src_value_bias);
      ffn(l + ".feed_forward", d, dc.ffn);
      layer_norm(l + ".norm1", d);
      layer_norm(l + ".norm2", d);
      layer_norm(l + ".norm3", d);
    }
    layer_norm(prefix + ".after_norm", d);
    linear(prefix + ".output_layer", d, v, true);
  }

  // WeNet's predictor and TransducerJoint. None of these is quantizable: they
  // stay float32 at every compute type, and tools/convert_wenet.py's Linear
  // pattern matches none of their names.
  void transducer(const ModelConfig& c) {
    const PredictorConfig& p = c.transducer.predictor;
    const int64_t v = c.vocab_size, e = p.embed_size;
    add("predictor.embed.weight", {v, e});
    switch (p.type) {
      case PredictorType::kRnn:
        for (int l = 0; l < p.num_layers; ++l) {  // torch.nn.LSTM: gates i, f, g, o stacked
          const std::string k = "_l" + std::to_string(l);
          add("predictor.rnn.weight_ih" + k, {4 * int64_t{p.hidden_size}, l == 0 ? e : p.hidden_size});
          add("predictor.rnn.weight_hh" + k, {4 * int64_t{p.hidden_size}, p.hidden_size});
          if (p.bias) {
            add("predictor.rnn.bias_ih" + k, {4 * int64_t{p.hidden_size}});
            add("predictor.rnn.bias_hh" + k, {4 * int64_t{p.hidden_size}});
          }
        }
        add("predictor.projection.weight", {p.output_size, p.hidden_size});
        add("predictor.projection.bias", {p.output_size});
        break;
      case PredictorType::kEmbedding:
        // pos_embed: [heads, e * context]; WeNet's forward reads only its weight.
        add("predictor.pos_embed.weight", {p.heads, e * p.context()});
        if (p.bias) add("predictor.pos_embed.bias", {p.heads});
        add("predictor.ffn.weight", {e, e});
        add("predictor.ffn.bias", {e});
        layer_norm("predictor.norm", e);
        break;
      case PredictorType::kConv:
        add("predictor.conv.weight", {e, 1, p.context()});  // depthwise
        if (p.bias) add("predictor.conv.bias", {e});
        layer_norm("predictor.norm", e);
        break;
    }
    const JointConfig& j = c.transducer.joint;
    auto float_linear = [&](const std::string& prefix, int64_t in, int64_t out_features) {
      add(prefix + ".weight", {out_features, in});
      add(prefix + ".bias", {out_features});
    };
    if (j.prejoin) {
      float_linear("joint.enc_ffn", j.enc_size, j.join_dim);
      float_linear("joint.pred_ffn", j.pred_size, j.join_dim);
    }
    if (j.postjoin) float_linear("joint.post_ffn", j.join_dim, j.join_dim);
    float_linear("joint.ffn_out", j.join_dim, v);
  }

  std::vector<ExpectedTensor> out;

 private:
  size_t limit_;
};

}  // namespace

namespace {

void self_attention(const EncoderConfig& e, const std::string& prefix, SpecBuilder& b) {
  const int64_t d = e.d_model;
  b.attention(prefix, d, e.query_bias, e.key_bias, e.value_bias);
  if (e.rel_attention) {
    b.add(prefix + ".linear_pos.weight", {d, d}, true);
    b.add(prefix + ".pos_bias_u", {e.heads, e.d_k()});
    b.add(prefix + ".pos_bias_v", {e.heads, e.d_k()});
  }
}

// A BranchformerEncoderLayer or EBranchformerEncoderLayer: attention branch
// (attn), cgMLP branch (cgmlp), the merge and their norms.
void branchformer_layer(const ModelConfig& c, int i, SpecBuilder& b) {
  const EncoderConfig& e = c.encoder;
  const int64_t d = e.d_model, half = e.cgmlp_channels();
  const std::string l = "encoder.encoders." + std::to_string(i);
  self_attention(e, l + ".attn", b);
  const std::string m = l + ".cgmlp";
  // channel_proj1 and merge_proj are split at load (into the gating unit's two
  // halves, and per merged branch): float32 copies, so not quantizable.
  b.add(m + ".channel_proj1.0.weight", {e.cgmlp_units, d});
  b.add(m + ".channel_proj1.0.bias", {e.cgmlp_units});
  b.layer_norm(m + ".csgu.norm", half);
  b.add(m + ".csgu.conv.weight", {half, 1, e.cgmlp_kernel});
  b.add(m + ".csgu.conv.bias", {half});
  if (e.cgmlp_linear_after_conv) b.linear(m + ".csgu.linear", half, half, true);
  b.linear(m + ".channel_proj2", half, d, true);
  b.layer_norm(l + ".norm_mha", d);
  b.layer_norm(l + ".norm_mlp", d);
  b.layer_norm(l + ".norm_final", d);
  if (e.type == EncoderType::kBranchformer) {
    // Built whatever the merge method (learned_ave's pooling); unused by concat and fixed_ave.
    // Not quantizable: a [1, d] matrix gains nothing from int8.
    for (const char* p : {".pooling_proj1", ".pooling_proj2", ".weight_proj1", ".weight_proj2"}) {
      b.add(l + p + ".weight", {1, d});
      b.add(l + p + ".bias", {1});
    }
    b.add(l + ".merge_proj.weight", {d, e.merge == MergeMethod::kConcat ? 2 * d : d});
    b.add(l + ".merge_proj.bias", {d});
    return;
  }
  if (e.use_ffn) {
    b.ffn(l + ".feed_forward", d, e.ffn);
    b.layer_norm(l + ".norm_ff", d);
  }
  if (e.macaron) {
    b.ffn(l + ".feed_forward_macaron", d, e.ffn);
    b.layer_norm(l + ".norm_ff_macaron", d);
  }
  b.add(l + ".depthwise_conv_fusion.weight", {2 * d, 1, e.merge_conv_kernel});
  b.add(l + ".depthwise_conv_fusion.bias", {2 * d});
  b.add(l + ".merge_proj.weight", {d, 2 * d});
  b.add(l + ".merge_proj.bias", {d});
}

// WeNet's SqueezeformerEncoder (after global_cmvn). Its adaptive scales
// exist whatever adaptive_scale says (nn.Parameters either way). The input
// layer, the time reduction and time_recover_layer stay float32 (the
// converter's Linear pattern does not name them).
void squeezeformer_encoder(const EncoderConfig& e, SpecBuilder& b) {
  const int64_t d = e.d_model;
  auto ada = [&](const std::string& prefix) {
    b.add(prefix + ".ada_scale", {1, 1, d});
    b.add(prefix + ".ada_bias", {1, 1, d});
  };
  b.add("encoder.embed.pw_conv.weight", {d, 1, 3, 3});
  b.add("encoder.embed.pw_conv.bias", {d});
  b.add("encoder.embed.dw_conv.weight", {d, d, 3, 3});
  b.add("encoder.embed.dw_conv.bias", {d});
  b.add("encoder.embed.input_proj.0.weight", {d, d * e.subsampled_features()});
  b.add("encoder.embed.input_proj.0.bias", {d});
  b.layer_norm("encoder.preln", d);
  for (int i = 0; i < e.num_blocks; ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    self_attention(e, l + ".self_attn", b);
    ada(l + ".self_attn");
    for (const char* f : {".ffn1", ".ffn2"}) {
      b.ffn(l + f, d, e.ffn);
      ada(l + f);
    }
    const std::string m = l + ".conv_module";
    ada(m);
    b.add(m + ".pointwise_conv1.weight", {2 * d, d, 1}, true);
    b.add(m + ".pointwise_conv1.bias", {2 * d});
    b.add(m + ".depthwise_conv.weight", {d, 1, e.cnn_kernel});
    b.add(m + ".depthwise_conv.bias", {d});
    b.layer_norm(m + ".norm", d);
    if (e.cnn_norm == ConvNorm::kBatchNorm) {
      b.add(m + ".norm.running_mean", {d});
      b.add(m + ".norm.running_var", {d});
    }
    b.add(m + ".pointwise_conv2.weight", {d, d, 1}, true);
    b.add(m + ".pointwise_conv2.bias", {d});
    for (int n = 1; n <= 4; ++n) b.layer_norm(l + ".layer_norm" + std::to_string(n), d);
  }
  const int64_t kernel = e.time_reduction == TimeReduction::kConv1d ? 5 : 1;
  b.add("encoder.time_reduction_layer.dw_conv.weight", {d, 1, kernel});
  b.add("encoder.time_reduction_layer.dw_conv.bias", {d});
  b.add("encoder.time_reduction_layer.pw_conv.weight", {d, d, 1});
  b.add("encoder.time_reduction_layer.pw_conv.bias", {d});
  b.add("encoder.time_recover_layer.weight", {d, d});
  b.add("encoder.time_recover_layer.bias", {d});
}

void build_expected(const ModelConfig& c, SpecBuilder& b) {
  const EncoderConfig& e = c.encoder;
  const int64_t d = e.d_model;
  if (e.global_cmvn) {
    b.add("encoder.global_cmvn.mean", {e.input_dim});
    b.add("encoder.global_cmvn.istd", {e.input_dim});
  }
  if (e.squeezeformer()) {
    squeezeformer_encoder(e, b);
  } else if (e.input_layer == InputLayer::kLinear) {  // LinearNoSubsampling: Linear, LayerNorm
    b.add("encoder.embed.out.0.weight", {d, e.input_dim}, true);
    b.add("encoder.embed.out.0.bias", {d});
    b.layer_norm("encoder.embed.out.1", d);
  } else {
    // encoder.embed.conv.{0,2,4}: (kernel) of each Conv2d; conv2d6's second is 5x5.
    std::vector<int64_t> kernels = {3, 3};
    if (e.input_layer == InputLayer::kConv2d2) kernels = {3};
    if (e.input_layer == InputLayer::kConv2d6) kernels = {3, 5};
    if (e.input_layer == InputLayer::kConv2d8) kernels = {3, 3, 3};
    for (size_t i = 0; i < kernels.size(); ++i) {
      const std::string conv = "encoder.embed.conv." + std::to_string(2 * i);
      // Over d channels: a Linear on im2col rows, in the compute type (the first stays float32).
      b.add(conv + ".weight", {d, i == 0 ? 1 : d, kernels[i], kernels[i]}, i > 0);
      b.add(conv + ".bias", {d});
    }
    // Its columns are re-ordered at load (per row: an int8 file's scales hold).
    const bool out0 = e.input_layer == InputLayer::kConv2d || e.input_layer == InputLayer::kConv2d2;
    const std::string out = out0 ? "encoder.embed.out.0" : "encoder.embed.linear";
    b.add(out + ".weight", {d, d * e.subsampled_features()}, true);
    b.add(out + ".bias", {d});
  }
  for (int i = 0; i < e.num_blocks && e.branchformer(); ++i) branchformer_layer(c, i, b);
  for (int i = 0; i < e.num_blocks && !e.branchformer() && !e.squeezeformer(); ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    b.attention(l + ".self_attn", d, e.query_bias, e.key_bias, e.value_bias);
    if (e.rel_attention) {
      // Grouped attention (efficientConformer): heads of group_size * d_k columns.
      const int64_t head_width = int64_t{e.layer_group(i)} * e.d_k();
      b.add(l + ".self_attn.linear_pos.weight", {d, d}, true);
      b.add(l + ".self_attn.pos_bias_u", {e.heads, head_width});
      b.add(l + ".self_attn.pos_bias_v", {e.heads, head_width});
    }
    if (e.layer_stride(i) > 1) {
      // StrideConformerEncoderLayer builds concat_linear and never uses it.
      b.add(l + ".concat_linear.weight", {d, 2 * d});
      b.add(l + ".concat_linear.bias", {d});
    }
    b.ffn(l + ".feed_forward", d, e.ffn);
    // TransformerEncoderLayer's norms are norm1 (attention) and norm2 (FFN).
    const bool transformer = e.type == EncoderType::kTransformer;
    b.layer_norm(l + (transformer ? ".norm2" : ".norm_ff"), d);
    b.layer_norm(l + (transformer ? ".norm1" : ".norm_mha"), d);
    if (e.macaron) {
      b.ffn(l + ".feed_forward_macaron", d, e.ffn);
      b.layer_norm(l + ".norm_ff_macaron", d);
    }
    if (e.adapter.self_attn) b.adapter(l + ".adapter_self_attn", d, e.adapter);
    if (e.adapter.feed_forward) b.adapter(l + ".adapter_feed_forward", d, e.adapter);
    if (e.adapter.feed_forward_macaron) b.adapter(l + ".adapter_feed_forward_macaron", d, e.adapter);
    if (e.use_cnn_module) {
      const int64_t inner = static_cast<int64_t>(e.conv_inner_factor) * d, ch = e.conv_channels();
      const std::string m = l + ".conv_module";
      b.add(m + ".pointwise_conv1.weight", {inner, d, 1}, true);
      if (e.conv_bias) b.add(m + ".pointwise_conv1.bias", {inner});
      b.add(m + ".depthwise_conv.weight", {ch, 1, e.layer_kernel(i)});
      if (e.conv_bias) b.add(m + ".depthwise_conv.bias", {ch});
      b.layer_norm(m + ".norm", ch);
      if (e.cnn_norm == ConvNorm::kBatchNorm) {
        b.add(m + ".norm.running_mean", {ch});
        b.add(m + ".norm.running_var", {ch});
      }
      b.add(m + ".pointwise_conv2.weight", {d, ch, 1}, true);
      if (e.conv_bias) b.add(m + ".pointwise_conv2.bias", {d});
      b.layer_norm(l + ".norm_conv", d);
      b.layer_norm(l + ".norm_final", d);
    }
  }
  if (e.final_norm) b.layer_norm("encoder.after_norm", d);
  b.linear("ctc.ctc_lo", d, c.vocab_size, true);
  switch (c.decoder.type) {
    case DecoderType::kNone: break;
    case DecoderType::kTransformer: b.decoder("decoder", c, c.decoder.num_blocks); break;
    case DecoderType::kBiTransformer:
      b.decoder("decoder.left_decoder", c, c.decoder.num_blocks);
      b.decoder("decoder.right_decoder", c, c.decoder.r_num_blocks);
      break;
  }
  if (c.transducer.present) b.transducer(c);
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c, size_t max_tensors) {
  SpecBuilder b(max_tensors);
  try {
    build_expected(c, b);
  } catch (const TooManyTensors&) {
    throw_error(MOEASR_ERR_FORMAT, "train.yaml implies more than ", max_tensors, " tensors (encoder num_blocks ",
                c.encoder.num_blocks, ", decoder num_blocks ", c.decoder.num_blocks, " + ", c.decoder.r_num_blocks,
                ", experts ", c.encoder.ffn.num_experts, " / ", c.decoder.ffn.num_experts, ")");
  }
  return std::move(b.out);
}

std::vector<ExpectedTensor> expected_adapter_tensors(const EncoderConfig& e, const AdapterConfig& a) {
  SpecBuilder b(kMaxExpectedTensors);
  for (int i = 0; i < e.num_blocks; ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    if (a.self_attn) b.adapter(l + ".adapter_self_attn", e.d_model, a);
    if (a.feed_forward) b.adapter(l + ".adapter_feed_forward", e.d_model, a);
    if (a.feed_forward_macaron) b.adapter(l + ".adapter_feed_forward_macaron", e.d_model, a);
  }
  return b.out;
}

void append_adapter_tensors(const std::string& prefix, int64_t d, const AdapterConfig& a,
                            std::vector<ExpectedTensor>& out) {
  SpecBuilder b(kMaxExpectedTensors);
  b.adapter(prefix, d, a);
  out.insert(out.end(), b.out.begin(), b.out.end());
}

void append_ffn_tensors(const std::string& prefix, int64_t d, const FfnConfig& f, std::vector<ExpectedTensor>& out) {
  SpecBuilder b(kMaxExpectedTensors);
  b.ffn(prefix, d, f);
  out.insert(out.end(), b.out.begin(), b.out.end());
}

bool is_ignorable_tensor(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".pe") || ends_with(".num_batches_tracked");
}

void validate_weights(const SafeTensors& weights, const ModelConfig& config) {
  // A config implying far more tensors than the file holds is a mismatch;
  // stop building names there, so an absurd train.yaml cannot exhaust memory.
  std::vector<ExpectedTensor> expected;
  try {
    expected = expected_tensors(config, std::min(kMaxExpectedTensors, 2 * weights.tensors().size() + 4096));
  } catch (const Error& e) {
    throw_error(MOEASR_ERR_FORMAT, weights.path(), " holds ", weights.tensors().size(),
                " tensors, far fewer than the config implies (config and weights do not match): ", e.what());
  }
  validate_tensors(weights, expected, "train.yaml");
}

void validate_tensors(const SafeTensors& weights, const std::vector<ExpectedTensor>& expected,
                      const std::string& config_name) {
  std::set<std::string> expected_names;
  std::vector<std::string> missing, bad_shape;
  for (const ExpectedTensor& t : expected) {
    expected_names.insert(t.name);
    const SafeTensorInfo* info = weights.find(t.name);
    if (!info) {
      missing.push_back(t.name);
      continue;
    }
    if (info->shape != t.shape) {
      bad_shape.push_back(t.name + " has shape " + shape_string(info->shape) + ", " + config_name + " implies " +
                          shape_string(t.shape));
      continue;
    }
    const bool float_type = info->dtype == DType::kF32 || info->dtype == DType::kF16 || info->dtype == DType::kBF16;
    if (info->dtype == DType::kI8 && t.quantizable) {
      // int8 needs its per-row scales.
      const std::string scale = t.name + ".scale";
      const SafeTensorInfo* s = weights.find(scale);
      MOEASR_CHECK(s, MOEASR_ERR_FORMAT, weights.path(), ": int8 tensor '", t.name, "' has no '", scale, "'");
      MOEASR_CHECK(s->dtype == DType::kF32 && s->shape == Shape{t.shape[0]}, MOEASR_ERR_FORMAT, weights.path(), ": '",
                   scale, "' must be F32 of shape [", t.shape[0], "], got ", dtype_name(s->dtype), " ",
                   shape_string(s->shape));
      expected_names.insert(scale);
      continue;
    }
    MOEASR_CHECK(float_type, MOEASR_ERR_UNSUPPORTED, weights.path(), ": tensor '", t.name, "' has dtype ",
                 dtype_name(info->dtype), "; this runtime reads F32, F16, BF16", t.quantizable ? " and I8" : "",
                 " here");
  }
  std::vector<std::string> unexpected;
  for (const SafeTensorInfo& info : weights.tensors()) {
    if (!expected_names.count(info.name) && !is_ignorable_tensor(info.name)) unexpected.push_back(info.name);
  }
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    const size_t shown = std::min<size_t>(names.size(), 5);
    for (size_t i = 0; i < shown; ++i) s += (i ? "; " : "") + names[i];
    if (names.size() > shown) s += str_cat("; ... (", names.size(), " in all)");
    return s;
  };
  MOEASR_CHECK(missing.empty(), MOEASR_ERR_FORMAT, weights.path(), ": missing tensors required by ", config_name, ": ",
               list(missing));
  MOEASR_CHECK(bad_shape.empty(), MOEASR_ERR_FORMAT, weights.path(), ": ", list(bad_shape));
  MOEASR_CHECK(unexpected.empty(), MOEASR_ERR_FORMAT, weights.path(),
               ": tensors that ", config_name, " does not account for (config and weights do not match): ",
               list(unexpected));
}

}  // namespace moeasr
