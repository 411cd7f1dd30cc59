// encoder_conf of encoder: squeezeformer (WeNet's SqueezeformerEncoder
// keywords and defaults). Supported: what librispeech's three Squeezeformer
// recipes use, with one time reduction and one recovery.
#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "formats/model_config.h"
#include "formats/yaml_section.h"

namespace moeasr {

namespace {

// reduce_idx / recover_idx: a block index, or a list of one (WeNet takes
// several, each reduction recovered in turn; not supported here).
int block_index(YamlSection& s, const std::string& key, int fallback, const std::string& source) {
  // null: no reduction, or no recovery (the output at the reduced rate).
  MOEASR_CHECK(!s.is_null(key), MOEASR_ERR_UNSUPPORTED, source, ": ", s.where(key),
               ": null is not supported by this runtime (supported: one block index, or a list of one)");
  if (!s.has(key)) return fallback;
  YAML::Node n = s.get<YAML::Node>(key, YAML::Node());
  if (n.IsSequence() && n.size() == 1) n = n[0];
  int v = 0;
  try {
    MOEASR_CHECK(n.IsScalar(), MOEASR_ERR_UNSUPPORTED, source, ": ", s.where(key),
                 " is not supported by this runtime (supported: one block index, or a list of one)");
    v = n.as<int>();
  } catch (const YAML::Exception&) {
    throw_error(MOEASR_ERR_FORMAT, source, ": ", s.where(key), " is not an integer");
  }
  return v;
}

}  // namespace

void parse_squeezeformer(YamlSection& s, EncoderConfig& e, const std::string& source) {
  // Training only: dropout and the initialisation.
  s.ignore({"input_dropout_rate", "feed_forward_dropout_rate", "attention_dropout_rate", "dropout",
            "init_weights", "use_dynamic_left_chunk"});
  e.d_model = s.get_positive("encoder_dim", 256);
  const int output_size = s.get_positive("output_size", 256);
  MOEASR_CHECK(output_size == e.d_model, MOEASR_ERR_UNSUPPORTED, source, ": ", s.where("output_size"), " ",
               output_size, " is not supported by this runtime (supported: equal to encoder_dim ", e.d_model,
               ", without final_proj, as in WeNet's recipes)");
  parse_attention_heads(s, e, "encoder_dim", source);
  e.num_blocks = s.get_positive("num_blocks", 12);
  e.reduce_idx = block_index(s, "reduce_idx", 5, source);
  e.recover_idx = block_index(s, "recover_idx", 11, source);
  MOEASR_CHECK(0 < e.reduce_idx && e.reduce_idx < e.recover_idx && e.recover_idx < e.num_blocks,
               MOEASR_ERR_UNSUPPORTED, source, ": encoder_conf.reduce_idx ", e.reduce_idx, " / recover_idx ",
               e.recover_idx, " are not supported by this runtime (supported: 0 < reduce_idx < recover_idx < ",
               "num_blocks ", e.num_blocks, ": one time reduction, recovered before a later block)");
  const int factor = s.get_positive("feed_forward_expansion_factor", 4);
  s.require_bool("dw_stride", false, false);
  s.get_choice("pos_enc_layer_type", "rel_pos", {"rel_pos"});
  e.time_reduction = s.get_choice("time_reduction_layer_type", "conv1d", {"conv1d", "stream"}) == "stream"
                         ? TimeReduction::kStream
                         : TimeReduction::kConv1d;
  e.rel_shift = s.get<bool>("do_rel_shift", true);
  e.cnn_kernel = s.get_positive("cnn_module_kernel", 31);
  e.cnn_norm = s.get_choice("cnn_norm_type", "batch_norm", {"batch_norm", "layer_norm"}) == "layer_norm"
                   ? ConvNorm::kLayerNorm
                   : ConvNorm::kBatchNorm;
  e.causal = s.get<bool>("causal", false);
  MOEASR_CHECK(e.causal || e.cnn_kernel % 2 == 1, MOEASR_ERR_FORMAT, source,
               ": encoder_conf.cnn_module_kernel must be odd for a non-causal convolution, got ", e.cnn_kernel);
  e.adaptive_scale = s.get<bool>("adaptive_scale", true);
  const Activation act = *s.get_activation("activation_type", "swish");
  s.require_bool("normalize_before", false, false);
  s.require_bool("concat_after", false, false);
  e.use_dynamic_chunk = s.get<bool>("use_dynamic_chunk", false);
  e.static_chunk_size = s.get<int>("static_chunk_size", 0);
  MOEASR_CHECK(e.static_chunk_size == 0, MOEASR_ERR_UNSUPPORTED, source, ": encoder_conf.static_chunk_size ",
               e.static_chunk_size, " is not supported by this runtime (supported: 0; use_dynamic_chunk for streaming)");

  // What the shared encoder code reads: DepthwiseConv2dSubsampling4 has
  // Conv2dSubsampling4's geometry; rel_pos positions into rel_selfattn; the
  // conformer's convolution module (biases, GLU of 2d channels); one dense FFN
  // kind (WeNet's SqueezeformerEncoder takes no mlp_type); LayerNorms with
  // eps 1e-5; no after_norm.
  e.input_layer = InputLayer::kConv2d;
  e.pos_enc = PosEnc::kRelPos;
  e.rel_attention = true;
  e.macaron = false;
  e.use_cnn_module = true;
  e.conv_bias = true;
  e.conv_inner_factor = 2;
  e.ffn = FfnConfig{};
  e.ffn.activation = act;
  e.ffn.hidden = factor * e.d_model;
  e.norm_eps = 1e-5f;
  e.conv_norm_eps = 1e-5f;
  e.final_norm = false;
  MOEASR_CHECK(e.subsampled_features() >= 1, MOEASR_ERR_FORMAT, source, ": input_dim ", e.input_dim,
               " is too small for DepthwiseConv2dSubsampling4");
}

}  // namespace moeasr
