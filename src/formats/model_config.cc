#include "formats/model_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/yaml_section.h"

namespace moeasr {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kRelu: return "relu";
    case Activation::kSwish: return "swish";
    case Activation::kGelu: return "gelu";
    case Activation::kTanh: return "tanh";
    case Activation::kSelu: return "selu";
    case Activation::kHardtanh: return "hardtanh";
  }
  return "?";
}

namespace {

// A "valid" convolution's output length, 0 when the input is shorter than the kernel.
int64_t conv_out(int64_t n, int kernel, int stride) { return n < kernel ? 0 : (n - kernel) / stride + 1; }

}  // namespace

int EncoderConfig::subsampling_rate() const {
  switch (input_layer) {
    case InputLayer::kConv2d: return 4;
    case InputLayer::kConv2d6: return 6;
    case InputLayer::kConv2d8: return 8;
    case InputLayer::kLinear: return 1;
    case InputLayer::kConv2d2: return 2;
  }
  return 4;
}

int EncoderConfig::right_context() const {
  // WeNet's values: the receptive field of one output frame, less one.
  switch (input_layer) {
    case InputLayer::kConv2d: return 6;
    case InputLayer::kConv2d6: return 10;
    case InputLayer::kConv2d8: return 14;
    case InputLayer::kLinear: return 0;
    case InputLayer::kConv2d2: return 2;
  }
  return 6;
}

int EncoderConfig::layer_stride(int i) const {
  return std::find(stride_layers.begin(), stride_layers.end(), i) != stride_layers.end() ? 2 : 1;
}

int EncoderConfig::layer_group(int i) const {
  return std::find(group_layers.begin(), group_layers.end(), i) != group_layers.end() ? group_size : 1;
}

int EncoderConfig::rate_before(int i) const {
  int rate = 1;
  for (int s : stride_layers) rate *= s < i ? 2 : 1;
  return rate;
}

int EncoderConfig::layer_kernel(int i) const {
  return stride_kernel ? cnn_kernel / rate_before(i) : cnn_kernel;
}

int64_t EncoderConfig::output_frames(int64_t n) const {
  int64_t frames = embedded_frames(n);
  for (size_t s = 0; s < stride_layers.size(); ++s) frames = (frames + 1) / 2;
  return frames;
}

int64_t EncoderConfig::embedded_frames(int64_t n) const {
  switch (input_layer) {
    case InputLayer::kConv2d2: return conv_out(n, 3, 2);
    case InputLayer::kConv2d: return conv_out(conv_out(n, 3, 2), 3, 2);
    case InputLayer::kConv2d6: return conv_out(conv_out(n, 3, 2), 5, 3);
    case InputLayer::kConv2d8: return conv_out(conv_out(conv_out(n, 3, 2), 3, 2), 3, 2);
    case InputLayer::kLinear: return n;
  }
  return 0;
}

int EncoderConfig::subsampled_features() const {
  return static_cast<int>(input_layer == InputLayer::kLinear ? 0 : embedded_frames(input_dim));
}

namespace {

// The keys of WeNet's BranchformerEncoder / EBranchformerEncoder beyond the
// shared ones (their layers' LayerNorms are nn.LayerNorm(size): eps 1e-5,
// whatever norm_eps says; norm_eps reaches only after_norm).
void parse_branchformer(YamlSection& s, EncoderConfig& e, const std::string& source) {
  const bool ebranch = e.type == EncoderType::kEBranchformer;
  s.ignore({"stochastic_depth_rate"});  // training only (layer drop)
  e.use_cnn_module = false;
  e.causal = s.get<bool>("causal", false);
  e.cgmlp_units = s.get_positive("cgmlp_linear_units", 2048);
  MOEASR_CHECK(e.cgmlp_units % 2 == 0, MOEASR_ERR_FORMAT, source, ": ", s.where("cgmlp_linear_units"),
               " must be even (the gating unit splits it in two), got ", e.cgmlp_units);
  e.cgmlp_kernel = s.get_positive("cgmlp_conv_kernel", 31);
  MOEASR_CHECK(e.causal || e.cgmlp_kernel % 2 == 1, MOEASR_ERR_FORMAT, source, ": ", s.where("cgmlp_conv_kernel"),
               " must be odd for a non-causal convolution, got ", e.cgmlp_kernel);
  e.cgmlp_linear_after_conv = s.get<bool>("use_linear_after_conv", false);
  const std::optional<Activation> gate = s.get_activation("gate_activation", "identity", {"identity"});
  e.gate_identity = !gate;
  if (gate) e.gate_activation = *gate;
  if (!ebranch) {
    s.ignore({"attn_branch_drop_rate"});  // training only (learned_ave)
    s.require_bool("use_attn", true, true);
    s.require_bool("use_cgmlp", true, true);
    const std::string merge = s.get_choice("merge_method", "concat", {"concat", "fixed_ave"});
    e.merge = merge == "fixed_ave" ? MergeMethod::kFixedAve : MergeMethod::kConcat;
    if (e.merge == MergeMethod::kFixedAve) {
      MOEASR_CHECK(!s.has("cgmlp_weight") || s.get<YAML::Node>("cgmlp_weight", YAML::Node()).IsScalar(),
                   MOEASR_ERR_UNSUPPORTED, source, ": ", s.where("cgmlp_weight"),
                   ": a per-block list is not supported by this runtime (one number for every block)");
      e.cgmlp_weight = s.get_float("cgmlp_weight", 0.5f);
      MOEASR_CHECK(e.cgmlp_weight > 0.f && e.cgmlp_weight < 1.f, MOEASR_ERR_UNSUPPORTED, source, ": ",
                   s.where("cgmlp_weight"), ": ", e.cgmlp_weight,
                   " is not supported by this runtime (supported: 0 < cgmlp_weight < 1, both branches)");
    } else {
      s.ignore({"cgmlp_weight"});  // used by fixed_ave only
    }
    e.macaron = false;
    e.use_ffn = false;
  } else {
    e.merge_conv_kernel = s.get_positive("merge_conv_kernel", 3);
    MOEASR_CHECK(e.causal || e.merge_conv_kernel % 2 == 1, MOEASR_ERR_FORMAT, source, ": ",
                 s.where("merge_conv_kernel"), " must be odd for a non-causal convolution, got ",
                 e.merge_conv_kernel);
    e.use_ffn = s.get<bool>("use_ffn", true);
    e.macaron = e.use_ffn && s.get<bool>("macaron_style", true);
    s.ignore({"macaron_style", "conv_bias"});  // conv_bias: taken, but no E-Branchformer layer uses it
  }
}

// efficient_conf's list keys: one layer index or a list of them.
std::vector<int> index_list(YamlSection& s, const std::string& key, std::vector<int> fallback,
                            const std::string& source) {
  if (!s.has(key)) return fallback;
  const YAML::Node n = s.get<YAML::Node>(key, YAML::Node());
  try {
    return n.IsSequence() ? n.as<std::vector<int>>() : std::vector<int>{n.as<int>()};
  } catch (const YAML::Exception&) {
    throw_error(MOEASR_ERR_FORMAT, source, ": ", s.where(key), " must be a layer index or a list of them");
  }
}

}  // namespace

void parse_attention_heads(YamlSection& s, EncoderConfig& e, const std::string& size_key, const std::string& source) {
  e.heads = s.get_positive("attention_heads", 4);
  MOEASR_CHECK(e.d_model % e.heads == 0, MOEASR_ERR_FORMAT, source, ": encoder_conf.", size_key, " ", e.d_model,
               " is not divisible by attention_heads ", e.heads);
  MOEASR_CHECK(e.d_model % 2 == 0, MOEASR_ERR_UNSUPPORTED, source, ": encoder_conf.", size_key, " ", e.d_model,
               " is odd (the sinusoidal position encoding needs an even size)");
}

namespace {

// output_size, attention_heads and num_blocks of a conformer-like encoder
// (the Squeezeformer names its size encoder_dim and reads it itself, then
// parse_attention_heads), and
// input_layer among `inputs` (the encoder class's choices).
void parse_size_and_input_layer(YamlSection& s, EncoderConfig& e, const std::string& source,
                                const std::vector<std::string>& inputs) {
  e.d_model = s.get_positive("output_size", 256);
  parse_attention_heads(s, e, "output_size", source);
  e.num_blocks = s.get_positive("num_blocks", 6);
  const std::string input = s.get_choice("input_layer", "conv2d", inputs);
  e.input_layer = input == "conv2d2"   ? InputLayer::kConv2d2
                  : input == "conv2d6" ? InputLayer::kConv2d6
                  : input == "conv2d8" ? InputLayer::kConv2d8
                  : input == "linear"  ? InputLayer::kLinear
                                       : InputLayer::kConv2d;
  MOEASR_CHECK(e.input_layer == InputLayer::kLinear || e.subsampled_features() >= 1, MOEASR_ERR_FORMAT, source,
               ": input_dim ", e.input_dim, " is too small for input_layer ", input);
}

// WeNet's EfficientConformerEncoder: its own keywords only (it swallows any
// other key unused, so the conformer's extra keys, e.g. query_bias or
// norm_eps, are reported as unknown rather than applied), and efficient_conf's
// keys, which WeNet passes alongside encoder_conf's.
void parse_efficient_conformer(YamlSection& s, ModelConfig* cfg, const std::string& source) {
  EncoderConfig& e = cfg->encoder;
  s.ignore({"dropout_rate", "positional_dropout_rate", "attention_dropout_rate", "use_dynamic_left_chunk"});
  parse_size_and_input_layer(s, e, source, {"conv2d2", "conv2d", "conv2d6", "conv2d8"});
  s.get_choice("pos_enc_layer_type", "rel_pos", {"rel_pos"});
  s.require_bool("normalize_before", true, true);
  e.static_chunk_size = s.get<int>("static_chunk_size", 0);
  MOEASR_CHECK(e.static_chunk_size == 0, MOEASR_ERR_UNSUPPORTED, source, ": encoder_conf.static_chunk_size ",
               e.static_chunk_size, " is not supported by this runtime for encoder efficientConformer (supported: 0, ",
               "with or without use_dynamic_chunk)");
  e.use_dynamic_chunk = s.get<bool>("use_dynamic_chunk", false);
  e.macaron = s.get<bool>("macaron_style", true);
  s.require_bool("use_cnn_module", true, true);
  e.cnn_kernel = s.get_positive("cnn_module_kernel", 15);
  e.causal = s.get<bool>("causal", false);
  e.cnn_norm = s.get_choice("cnn_module_norm", "batch_norm", {"batch_norm", "layer_norm"}) == "layer_norm"
                   ? ConvNorm::kLayerNorm
                   : ConvNorm::kBatchNorm;
  MOEASR_CHECK(!s.has("mlp_type") || s.get<std::string>("mlp_type", "") == "position_wise_feed_forward",
               MOEASR_ERR_UNSUPPORTED, source, ": ", s.where("mlp_type"),
               ": encoder efficientConformer has dense FFNs only (supported: position_wise_feed_forward; WeNet's "
               "EfficientConformerEncoder ignores mlp_type)");
  e.ffn.activation = *s.get_activation("activation_type", "swish");
  e.ffn.hidden = s.get_positive("linear_units", 2048);

  // efficient_conf's keys, in it or (as WeNet also takes them) in encoder_conf.
  YamlSection ec(s.get<YAML::Node>("efficient_conf", YAML::Node()), "encoder_conf.efficient_conf", source);
  auto section = [&](const char* key) -> YamlSection& {
    MOEASR_CHECK(!(s.has(key) && ec.has(key)), MOEASR_ERR_FORMAT, source, ": ", key,
                 " is given in both encoder_conf and encoder_conf.efficient_conf");
    return ec.has(key) ? ec : s;
  };
  const int n = e.num_blocks;
  e.stride_layers = index_list(section("stride_layer_idx"), "stride_layer_idx", {3}, source);
  const std::vector<int> strides = index_list(section("stride"), "stride", {2}, source);
  e.group_layers = index_list(section("group_layer_idx"), "group_layer_idx", {0, 1, 2, 3}, source);
  e.group_size = section("group_size").get_positive("group_size", 3);
  e.stride_kernel = section("stride_kernel").get<bool>("stride_kernel", true);
  ec.collect_unknown(&cfg->warnings);
  for (size_t i = 0; i < e.stride_layers.size(); ++i) {
    MOEASR_CHECK(e.stride_layers[i] >= 0 && e.stride_layers[i] < n && (i == 0 || e.stride_layers[i] > e.stride_layers[i - 1]),
                 MOEASR_ERR_FORMAT, source, ": efficient_conf.stride_layer_idx must be increasing layer indices in [0, ",
                 n, ")");
  }
  std::set<int> groups;
  for (int g : e.group_layers) {
    MOEASR_CHECK(g >= 0 && g < n && groups.insert(g).second, MOEASR_ERR_FORMAT, source,
                 ": efficient_conf.group_layer_idx must be distinct layer indices in [0, ", n, ")");
  }
  MOEASR_CHECK(strides.size() == e.stride_layers.size(), MOEASR_ERR_FORMAT, source,
               ": efficient_conf.stride needs one entry per stride_layer_idx (", e.stride_layers.size(), "), got ",
               strides.size());
  for (int st : strides) {
    MOEASR_CHECK(st == 2, MOEASR_ERR_UNSUPPORTED, source, ": efficient_conf.stride ", st,
                 " is not supported by this runtime (supported: 2)");
  }
  for (int i = 0; i < n; ++i) {
    const int k = e.layer_kernel(i);
    MOEASR_CHECK(e.causal ? k >= 2 : k % 2 == 1, MOEASR_ERR_FORMAT, source, ": layer ", i,
                 "'s conv kernel (cnn_module_kernel ", e.cnn_kernel, e.stride_kernel ? " divided by its strides" : "",
                 ") is ", k, "; it must be ", e.causal ? "at least 2 (causal)" : "odd (not causal)");
  }
}

// mlp_type: position_wise_feed_forward | moe | mot | soft_moe. Mixture of
// Tokens and Soft MoE exist only in the encoder: in the attention decoder they
// would mix hypotheses or future tokens (`encoder` false names the key in the
// refusal).
FfnConfig parse_ffn(YamlSection& s, Activation activation, const std::string& source, bool encoder) {
  FfnConfig f;
  f.activation = activation;
  f.hidden = s.get_positive("linear_units", 2048);
  std::string type = s.get_choice("mlp_type", "position_wise_feed_forward",
                                  {"position_wise_feed_forward", "moe", "mot", "soft_moe"});
  MOEASR_CHECK(type != "mot" || encoder, MOEASR_ERR_UNSUPPORTED, source, ": ", s.where("mlp_type"),
               ": 'mot' is not supported in the decoder (Mixture of Tokens runs in the encoder only; in the ",
               "rescoring decoder it would mix hypotheses or future tokens)");
  MOEASR_CHECK(type != "soft_moe" || encoder, MOEASR_ERR_UNSUPPORTED, source, ": ", s.where("mlp_type"),
               ": 'soft_moe' is not supported in the decoder (Soft MoE groups tokens by utterance or chunk, ",
               "which only the encoder has)");
  f.kind = type == "moe" ? FfnKind::kMoe : type == "mot" ? FfnKind::kMot : type == "soft_moe" ? FfnKind::kSoftMoe
                                                                                                : FfnKind::kDense;
  // WeNet's experts default to biases; MoT experts have none unless asked (the paper's layer).
  f.bias = s.get<bool>("mlp_bias", f.kind != FfnKind::kMot);
  int n_expert = s.get<int>("n_expert", 8);
  int n_active = s.get<int>("n_expert_activated", 2);  // MoT: unused (every expert runs once per group)
  if (f.has_experts()) {
    MOEASR_CHECK(n_expert >= 1, MOEASR_ERR_FORMAT, source, ": ", s.where("n_expert"), " must be >= 1, got ",
                 n_expert);
    f.num_experts = n_expert;
  }
  if (f.kind == FfnKind::kMoe) {
    MOEASR_CHECK(n_active >= 1 && n_active <= n_expert, MOEASR_ERR_FORMAT, source, ": ",
                 s.where("n_expert_activated"), " must be in [1, n_expert=", n_expert, "], got ", n_active);
    f.top_k = n_active;
  }
  if (f.kind == FfnKind::kMot) {
    MOEASR_CHECK(s.has("mot_group_size"), MOEASR_ERR_FORMAT, source, ": ", s.where("mot_group_size"),
                 " is required for mlp_type: mot");
    f.group_size = s.get<int>("mot_group_size", 0);
    MOEASR_CHECK(f.group_size >= 1 && f.group_size <= 4096, MOEASR_ERR_FORMAT, source, ": ",
                 s.where("mot_group_size"), " must be in [1, 4096], got ", f.group_size);
    f.temperature = s.get_float("mot_temperature", 1.f);
    MOEASR_CHECK(f.temperature > 0.f, MOEASR_ERR_FORMAT, source, ": ", s.where("mot_temperature"),
                 " must be positive, got ", f.temperature);
    f.grouping = s.get_choice("mot_grouping", "cross_example", {"cross_example", "within_sequence"}) ==
                         "within_sequence"
                     ? MotGrouping::kWithinSequence
                     : MotGrouping::kCrossExample;
  }
  if (encoder) {  // keys known to the encoder whatever the mlp_type
    const int slots = s.get<int>("slots_per_expert", 1);
    const bool normalize = s.get<bool>("soft_moe_normalize", false);
    if (f.kind == FfnKind::kSoftMoe) {
      MOEASR_CHECK(slots >= 1, MOEASR_ERR_FORMAT, source, ": ", s.where("slots_per_expert"),
                   " must be >= 1, got ", slots);
      f.slots_per_expert = slots;
      f.soft_normalize = normalize;
    }
  }
  return f;
}

// `macaron`: whether the base model has macaron FFNs (adapters.yaml: checked
// later against the model the set is used with).
AdapterConfig parse_adapter(YamlSection& s, bool macaron, const std::string& source) {
  AdapterConfig a;
  // Read every adapter key so none is reported as unknown; they only matter with a type.
  const std::string type = s.has("adapter_type") ? s.get_choice("adapter_type", "", {"soft_moa", "dense_moa"}) : "";
  std::vector<std::string> places = s.get<std::vector<std::string>>("adapter_placement", {"feed_forward"});
  const int dim = s.get<int>("adapter_dim", 64);
  const int experts = s.get<int>("adapter_n_expert", 4);
  const int slots = s.get<int>("adapter_slots_per_expert", 1);
  const bool normalize = s.get<bool>("adapter_normalize", false);
  const bool mode_given = s.has("adapter_normalize_mode");
  const std::string mode = s.get_choice("adapter_normalize_mode", "soft_moe", {"soft_moe", "petl_ast"});
  const bool router_bias = s.get<bool>("adapter_router_bias", false);
  if (type.empty()) return a;
  a.type = type == "soft_moa" ? AdapterType::kSoftMoa : AdapterType::kDenseMoa;
  MOEASR_CHECK(dim >= 1, MOEASR_ERR_FORMAT, source, ": ", s.where("adapter_dim"), " must be >= 1, got ", dim);
  MOEASR_CHECK(experts >= 1, MOEASR_ERR_FORMAT, source, ": ", s.where("adapter_n_expert"), " must be >= 1, got ",
               experts);
  MOEASR_CHECK(slots >= 1, MOEASR_ERR_FORMAT, source, ": ", s.where("adapter_slots_per_expert"),
               " must be >= 1, got ", slots);
  a.dim = dim;
  a.num_experts = experts;
  a.slots_per_expert = slots;
  a.normalize = normalize;
  // Options of one kind only are errors on the other, so a file cannot claim
  // a model the runtime would silently run differently.
  MOEASR_CHECK(!mode_given || (a.type == AdapterType::kSoftMoa && normalize), MOEASR_ERR_FORMAT, source, ": ",
               s.where("adapter_normalize_mode"), " needs adapter_type soft_moa and adapter_normalize: true");
  a.normalize_mode = mode == "petl_ast" ? SlotNormalization::kPetlAst : SlotNormalization::kSoftMoe;
  MOEASR_CHECK(!router_bias || a.type == AdapterType::kDenseMoa, MOEASR_ERR_FORMAT, source, ": ",
               s.where("adapter_router_bias"), " needs adapter_type dense_moa (soft_moa has no router)");
  a.router_bias = router_bias;
  MOEASR_CHECK(!places.empty(), MOEASR_ERR_FORMAT, source, ": ", s.where("adapter_placement"), " is empty");
  for (const std::string& p : places) {
    bool* flag = p == "self_attn"              ? &a.self_attn
                 : p == "feed_forward"         ? &a.feed_forward
                 : p == "feed_forward_macaron" ? &a.feed_forward_macaron
                                               : nullptr;
    MOEASR_CHECK(flag, MOEASR_ERR_UNSUPPORTED, source, ": ", s.where("adapter_placement"), ": '", p,
                 "' is not supported (supported: self_attn, feed_forward, feed_forward_macaron)");
    MOEASR_CHECK(!*flag, MOEASR_ERR_FORMAT, source, ": ", s.where("adapter_placement"), " lists '", p, "' twice");
    *flag = true;
  }
  MOEASR_CHECK(!a.feed_forward_macaron || macaron, MOEASR_ERR_FORMAT, source, ": ", s.where("adapter_placement"),
               ": feed_forward_macaron needs macaron_style: true");
  return a;
}

// WeNet's TransformerEncoder takes none of the conformer-only keys (a
// train.yaml with them fails in WeNet); they are reported as unknown here.
// Likewise for the Branchformer encoders (which also take no normalize_before).
void parse_encoder(YamlSection& s, ModelConfig* cfg, const std::string& source) {
  EncoderConfig& e = cfg->encoder;
  if (e.efficient()) {
    parse_efficient_conformer(s, cfg, source);
    return;
  }
  if (e.squeezeformer()) {
    parse_squeezeformer(s, e, source);
    return;
  }
  const bool conformer = e.type == EncoderType::kConformer;
  const bool rel_default = conformer || e.branchformer();  // rel_pos and rel_selfattn by default
  s.ignore({"dropout_rate", "positional_dropout_rate", "attention_dropout_rate", "use_dynamic_left_chunk",
            "gradient_checkpointing", "use_sdpa"});
  parse_size_and_input_layer(s, e, source, {"conv2d", "conv2d6", "conv2d8", "linear"});
  // WeNet's defaults differ per encoder class.
  const std::string pos =
      s.get_choice("pos_enc_layer_type", rel_default ? "rel_pos" : "abs_pos", {"rel_pos", "abs_pos", "no_pos"});
  e.pos_enc = pos == "abs_pos" ? PosEnc::kAbsPos : pos == "no_pos" ? PosEnc::kNoPos : PosEnc::kRelPos;
  // TransformerEncoder asserts selfattn (or rope_abs_selfattn, not supported here).
  e.rel_attention = s.get_choice("selfattention_layer_type", rel_default ? "rel_selfattn" : "selfattn",
                                 rel_default ? std::vector<std::string>{"rel_selfattn", "selfattn"}
                                             : std::vector<std::string>{"selfattn"}) == "rel_selfattn";
  if (!e.branchformer()) s.require_bool("normalize_before", true, true);
  s.get_choice("layer_norm_type", "layer_norm", {"layer_norm"});
  s.require_null("n_kv_head");
  s.require_null("head_dim");
  e.static_chunk_size = s.get<int>("static_chunk_size", 0);
  e.use_dynamic_chunk = s.get<bool>("use_dynamic_chunk", false);
  e.query_bias = s.get<bool>("query_bias", true);
  e.key_bias = s.get<bool>("key_bias", true);
  e.value_bias = s.get<bool>("value_bias", true);
  e.norm_eps = s.get_float("norm_eps", 1e-5f);
  if (conformer) {
    MOEASR_CHECK(s.get<int>("positionwise_conv_kernel_size", 1) == 1, MOEASR_ERR_UNSUPPORTED, source,
                 ": encoder_conf.positionwise_conv_kernel_size must be 1");
    e.macaron = s.get<bool>("macaron_style", true);
    e.use_cnn_module = s.get<bool>("use_cnn_module", true);
    e.cnn_kernel = s.get_positive("cnn_module_kernel", 15);
    e.causal = s.get<bool>("causal", false);
    MOEASR_CHECK(e.causal || e.cnn_kernel % 2 == 1, MOEASR_ERR_FORMAT, source,
                 ": encoder_conf.cnn_module_kernel must be odd for a non-causal convolution, got ", e.cnn_kernel);
    e.cnn_norm = s.get_choice("cnn_module_norm", "batch_norm", {"batch_norm", "layer_norm"}) == "layer_norm"
                     ? ConvNorm::kLayerNorm
                     : ConvNorm::kBatchNorm;
    e.conv_bias = s.get<bool>("conv_bias", true);
    e.conv_inner_factor = s.get_positive("conv_inner_factor", 2);
    MOEASR_CHECK((e.conv_inner_factor * e.d_model) % 2 == 0, MOEASR_ERR_FORMAT, source,
                 ": encoder_conf.conv_inner_factor * output_size must be even");
    e.conv_norm_eps = s.get_float("conv_norm_eps", 1e-5f);
    e.final_norm = s.get<bool>("final_norm", true);
  } else if (e.branchformer()) {
    parse_branchformer(s, e, source);
    e.final_norm = true;
  } else {
    e.macaron = false;
    e.use_cnn_module = false;
    e.final_norm = true;  // BaseEncoder's default: TransformerEncoder does not pass final_norm
  }
  if (e.type == EncoderType::kBranchformer) return;  // no FFN, no adapters
  Activation act = *s.get_activation("activation_type", e.type == EncoderType::kTransformer ? "relu" : "swish");
  e.ffn = parse_ffn(s, act, source, /*encoder=*/true);
  if (e.type == EncoderType::kEBranchformer) {
    MOEASR_CHECK(e.ffn.kind == FfnKind::kDense || e.ffn.kind == FfnKind::kMoe, MOEASR_ERR_UNSUPPORTED, source, ": ",
                 s.where("mlp_type"),
                 ": encoder e_branchformer supports position_wise_feed_forward and moe (WeNet's FFN kinds)");
    return;  // no adapters
  }
  e.adapter = parse_adapter(s, e.macaron, source);
  MOEASR_CHECK(conformer || e.adapter.type == AdapterType::kNone, MOEASR_ERR_UNSUPPORTED, source, ": ",
               s.where("adapter_type"), ": adapters are supported with encoder: conformer only");
}

void parse_decoder(YamlSection& s, ModelConfig* cfg, const std::string& source) {
  DecoderConfig& d = cfg->decoder;
  s.ignore({"dropout_rate", "positional_dropout_rate", "self_attention_dropout_rate", "src_attention_dropout_rate",
            "gradient_checkpointing", "use_sdpa", "tie_word_embedding"});
  d.heads = s.get_positive("attention_heads", 4);
  MOEASR_CHECK(cfg->encoder.d_model % d.heads == 0, MOEASR_ERR_FORMAT, source, ": decoder_conf.attention_heads ",
               d.heads, " does not divide the model size ", cfg->encoder.d_model);
  d.num_blocks = s.get<int>("num_blocks", 6);
  MOEASR_CHECK(d.num_blocks >= 0, MOEASR_ERR_FORMAT, source, ": decoder_conf.num_blocks must be >= 0");
  if (d.type == DecoderType::kBiTransformer) {
    d.r_num_blocks = s.get<int>("r_num_blocks", 0);
    MOEASR_CHECK(d.r_num_blocks >= 0, MOEASR_ERR_FORMAT, source, ": decoder_conf.r_num_blocks must be >= 0");
  }
  s.get_choice("input_layer", "embed", {"embed"});
  s.require_bool("use_output_layer", true, true);
  s.require_bool("normalize_before", true, true);
  s.require_bool("src_attention", true, true);
  s.get_choice("layer_norm_type", "layer_norm", {"layer_norm"});
  s.require_null("n_kv_head");
  s.require_null("head_dim");
  d.query_bias = s.get<bool>("query_bias", true);
  d.key_bias = s.get<bool>("key_bias", true);
  d.value_bias = s.get<bool>("value_bias", true);
  if (d.type == DecoderType::kTransformer) {  // BiTransformerDecoder does not forward these
    d.src_query_bias = s.get<bool>("src_query_bias", true);
    d.src_key_bias = s.get<bool>("src_key_bias", true);
    d.src_value_bias = s.get<bool>("src_value_bias", true);
  }
  d.norm_eps = s.get_float("norm_eps", 1e-5f);
  Activation act = *s.get_activation("activation_type", "relu");
  d.ffn = parse_ffn(s, act, source, /*encoder=*/false);
}

}  // namespace

ModelConfig parse_model_config(const std::string& yaml_text, const std::string& source, int vocab_size_hint) {
  const YAML::Node root = load_yaml_mapping(yaml_text, source);

  ModelConfig cfg;
  try {
    YamlSection top(root, "", source);
    const bool transducer = top.get_choice("model", "asr_model", {"asr_model", "transducer"}) == "transducer";
    top.ignore({"predictor", "predictor_conf", "joint", "joint_conf"});  // read below for a transducer
    const std::string encoder =
        top.get_choice("encoder", "conformer",
                       {"conformer", "transformer", "branchformer", "e_branchformer", "squeezeformer",
                        "efficientConformer"});
    cfg.encoder.type = encoder == "transformer"          ? EncoderType::kTransformer
                       : encoder == "efficientConformer" ? EncoderType::kEfficientConformer
                       : encoder == "branchformer"       ? EncoderType::kBranchformer
                       : encoder == "e_branchformer"     ? EncoderType::kEBranchformer
                       : encoder == "squeezeformer"      ? EncoderType::kSqueezeformer
                                                         : EncoderType::kConformer;
    // WeNet: `decoder` absent means bitransformer; `decoder: null` means a CTC-only model.
    if (root["decoder"] && root["decoder"].IsNull()) {
      cfg.decoder.type = DecoderType::kNone;
      top.ignore({"decoder"});
    } else {
      std::string decoder = top.get_choice("decoder", "bitransformer", {"bitransformer", "transformer"});
      cfg.decoder.type = decoder == "transformer" ? DecoderType::kTransformer : DecoderType::kBiTransformer;
    }
    top.get_choice("ctc", "ctc", {"ctc"});
    if (top.has("cmvn")) top.get_choice("cmvn", "global_cmvn", {"global_cmvn"});
    cfg.encoder.global_cmvn = top.has("cmvn");

    // Front end: dataset_conf.fbank_conf (WeNet's defaults otherwise).
    YamlSection dataset(root["dataset_conf"], "dataset_conf", source);
    if (dataset.has("feats_type")) dataset.get_choice("feats_type", "fbank", {"fbank"});
    MOEASR_CHECK(!dataset.has("mfcc_conf") && !dataset.has("log_mel_spectrogram_conf"), MOEASR_ERR_UNSUPPORTED,
                 source, ": only fbank features are supported (dataset_conf has mfcc/log-mel settings)");
    YamlSection fbank(root["dataset_conf"] ? root["dataset_conf"]["fbank_conf"] : YAML::Node(),
                      "dataset_conf.fbank_conf", source);
    cfg.fbank.num_mel_bins = fbank.get_positive("num_mel_bins", 80);
    cfg.fbank.frame_length_ms = fbank.get_float("frame_length", 25.f);
    cfg.fbank.frame_shift_ms = fbank.get_float("frame_shift", 10.f);
    MOEASR_CHECK(cfg.fbank.frame_length_ms > 0 && cfg.fbank.frame_shift_ms > 0, MOEASR_ERR_FORMAT, source,
                 ": dataset_conf.fbank_conf frame_length/frame_shift must be positive");
    YamlSection resample(root["dataset_conf"] ? root["dataset_conf"]["resample_conf"] : YAML::Node(),
                         "dataset_conf.resample_conf", source);
    cfg.fbank.sample_rate = resample.get_positive("resample_rate", 16000);

    cfg.encoder.input_dim = top.get_positive("input_dim", cfg.fbank.num_mel_bins);
    MOEASR_CHECK(cfg.encoder.input_dim == cfg.fbank.num_mel_bins, MOEASR_ERR_FORMAT, source, ": input_dim ",
                 cfg.encoder.input_dim, " != dataset_conf.fbank_conf.num_mel_bins ", cfg.fbank.num_mel_bins);
    MOEASR_CHECK(cfg.encoder.input_dim >= 1, MOEASR_ERR_FORMAT, source, ": input_dim must be positive");

    if (top.has("output_dim")) {
      cfg.vocab_size = top.get_positive("output_dim", 0);
      MOEASR_CHECK(vocab_size_hint < 0 || vocab_size_hint == cfg.vocab_size, MOEASR_ERR_FORMAT, source,
                   ": output_dim ", cfg.vocab_size, " does not match the ", vocab_size_hint, " entries of units.txt");
    } else {
      MOEASR_CHECK(vocab_size_hint > 0 || vocab_size_hint == kVocabFromUnits, MOEASR_ERR_FORMAT, source,
                   ": output_dim is missing");
      cfg.vocab_size = std::max(vocab_size_hint, 0);
    }
    // Unknown only for a train.yaml checked alone (kVocabFromUnits): the ids below are then checked at load.
    const bool vocab_known = cfg.vocab_size > 0;
    MOEASR_CHECK(cfg.vocab_size >= 2 || !vocab_known, MOEASR_ERR_FORMAT, source, ": vocabulary of size ",
                 cfg.vocab_size, " is too small");

    YamlSection encoder_conf(root["encoder_conf"], "encoder_conf", source);
    parse_encoder(encoder_conf, &cfg, source);
    encoder_conf.collect_unknown(&cfg.warnings);

    if (cfg.decoder.type != DecoderType::kNone) {
      YamlSection decoder_conf(root["decoder_conf"], "decoder_conf", source);
      parse_decoder(decoder_conf, &cfg, source);
      decoder_conf.collect_unknown(&cfg.warnings);
    }

    if (transducer) cfg.transducer = parse_transducer_config(root, cfg.encoder.d_model, source, &cfg.warnings);

    YamlSection ctc_conf(root["ctc_conf"], "ctc_conf", source);
    cfg.blank_id = ctc_conf.get<int>("ctc_blank_id", 0);
    MOEASR_CHECK(cfg.blank_id >= 0 && (cfg.blank_id < cfg.vocab_size || !vocab_known), MOEASR_ERR_FORMAT, source,
                 ": ctc_conf.ctc_blank_id ", cfg.blank_id, " is outside the vocabulary");

    YamlSection model_conf(root["model_conf"], "model_conf", source);
    cfg.train_ctc_weight = model_conf.get_float("ctc_weight", 0.5f);
    cfg.train_reverse_weight = model_conf.get_float("reverse_weight", 0.f);

    cfg.sos_id = cfg.eos_id = cfg.vocab_size - 1;
    YAML::Node tok = root["tokenizer_conf"];
    if (tok && tok.IsMap() && tok["special_tokens"] && tok["special_tokens"].IsMap()) {
      YamlSection special(tok["special_tokens"], "tokenizer_conf.special_tokens", source);
      cfg.sos_id = special.get<int>("<sos>", cfg.sos_id);
      cfg.eos_id = special.get<int>("<eos>", cfg.eos_id);
    }
    MOEASR_CHECK(!vocab_known || (cfg.sos_id >= 0 && cfg.sos_id < cfg.vocab_size && cfg.eos_id >= 0 &&
                                  cfg.eos_id < cfg.vocab_size),
                 MOEASR_ERR_FORMAT, source, ": <sos>/<eos> ids ", cfg.sos_id, "/", cfg.eos_id,
                 " are outside the vocabulary of ", cfg.vocab_size);
  } catch (const YAML::Exception& e) {
    throw_error(MOEASR_ERR_FORMAT, source, ": ", e.what());
  }
  return cfg;
}

AdapterConfig parse_adapter_conf(const YAML::Node& conf, const std::string& source) {
  MOEASR_CHECK(conf && conf.IsMap(), MOEASR_ERR_FORMAT, source, ": needs an adapter_conf mapping");
  // A new, small format: unknown keys are errors rather than warnings.
  reject_unknown_keys(conf, "adapter_conf.", source,
                      {"adapter_type", "adapter_placement", "adapter_dim", "adapter_n_expert",
                       "adapter_slots_per_expert", "adapter_normalize", "adapter_normalize_mode",
                       "adapter_router_bias"});
  YamlSection s(conf, "adapter_conf", source);
  MOEASR_CHECK(s.has("adapter_type"), MOEASR_ERR_FORMAT, source, ": adapter_conf.adapter_type is missing");
  return parse_adapter(s, true, source);
}

AdapterConfig parse_adapter_config(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = load_yaml_mapping(yaml_text, source);
  AdapterConfig a;
  try {
    a = parse_adapter_conf(root["adapter_conf"], source);
    reject_unknown_keys(root, "", source, {"adapter_conf", "description"});
  } catch (const YAML::Exception& e) {
    throw_error(MOEASR_ERR_FORMAT, source, ": ", e.what());
  }
  return a;
}

ModelConfig load_model_config(const std::string& path, int vocab_size_hint) {
  return parse_model_config(read_file(path), path, vocab_size_hint);
}

}  // namespace moeasr
