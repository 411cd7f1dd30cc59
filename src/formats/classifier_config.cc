#include "formats/classifier_config.h"

#include <cmath>
#include <initializer_list>

#include "core/error.h"
#include "formats/yaml_section.h"

namespace moeasr {

namespace {

// Bounds that keep a hostile or mistyped file from asking for absurd memory
// (a real AST is 768 wide, 12 layers, 1024 frames, 527 labels).
constexpr int kMaxWidth = 1 << 16;
constexpr int kMaxLayers = 1024;
constexpr int kMaxFrames = 1 << 16;
constexpr int kMaxMelBins = 1024;
constexpr int kMaxLabels = 1 << 20;

// A required mapping of classifier.yaml; a new format, so unknown keys are errors.
YamlSection section(const YAML::Node& root, const std::string& name, const std::string& source,
                    std::initializer_list<const char*> known) {
  const YAML::Node node = root[name];
  MOEASR_CHECK(node && node.IsMap(), MOEASR_ERR_FORMAT, source, ": needs a '", name, "' mapping");
  reject_unknown_keys(node, name + ".", source, known);
  return YamlSection(node, name, source);
}

// The adapters.yaml schema, by its own parser, so both stay one format; plus
// the AST-only adapter_self_attn_twice (taken out before that parser, which
// rejects keys it does not know).
AdapterConfig parse_ast_adapters(const YAML::Node& node, const std::string& source, bool* self_attn_twice) {
  YAML::Node conf = YAML::Clone(node);
  *self_attn_twice = false;
  if (conf["adapter_self_attn_twice"]) {
    YamlSection s(conf, "adapter_conf", source);
    *self_attn_twice = s.get<bool>("adapter_self_attn_twice", false);
    conf.remove("adapter_self_attn_twice");
  }
  AdapterConfig a = parse_adapter_conf(conf, source);
  MOEASR_CHECK(!a.feed_forward_macaron, MOEASR_ERR_FORMAT, source,
               ": adapter_conf.adapter_placement: an AST layer has no macaron FFN (use self_attn, feed_forward)");
  MOEASR_CHECK(!*self_attn_twice || a.self_attn, MOEASR_ERR_FORMAT, source,
               ": adapter_conf.adapter_self_attn_twice needs self_attn in adapter_placement");
  return a;
}

}  // namespace

std::string ast_layer_prefix(int i) { return "audio_spectrogram_transformer.encoder.layer." + std::to_string(i); }

AstConfig parse_ast_config(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = load_yaml_mapping(yaml_text, source);
  AstConfig c;
  try {
    reject_unknown_keys(root, "", source, {"model_type", "frontend", "encoder", "head", "adapter_conf", "description"});
    MOEASR_CHECK(root["model_type"] && root["model_type"].IsScalar(), MOEASR_ERR_FORMAT, source,
                 ": model_type is missing (expected 'ast')");
    const std::string type = root["model_type"].Scalar();
    MOEASR_CHECK(type == "ast", MOEASR_ERR_UNSUPPORTED, source, ": model_type '", type,
                 "' is not supported by this runtime (supported: ast)");

    YamlSection fe = section(root, "frontend", source, {"sample_rate", "num_mel_bins", "max_length", "mean", "std"});
    c.sample_rate = fe.get_int_in("sample_rate", 8000, 192000, 16000);
    c.num_mel_bins = fe.get_int_in("num_mel_bins", 1, kMaxMelBins, 128);
    c.max_length = fe.get_int_in("max_length", 1, kMaxFrames);
    c.mean = fe.get_float("mean", c.mean);
    c.std = fe.get_float("std", c.std);
    MOEASR_CHECK(c.std > 0, MOEASR_ERR_FORMAT, source, ": frontend.std must be positive, got ", c.std);

    YamlSection enc = section(root, "encoder", source,
                      {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
                       "layer_norm_eps", "patch_size", "frequency_stride", "time_stride"});
    c.hidden = enc.get_int_in("hidden_size", 1, kMaxWidth);
    c.layers = enc.get_int_in("num_hidden_layers", 0, kMaxLayers);
    c.heads = enc.get_int_in("num_attention_heads", 1, kMaxWidth);
    MOEASR_CHECK(c.hidden % c.heads == 0, MOEASR_ERR_FORMAT, source, ": encoder.hidden_size ", c.hidden,
                 " is not divisible by num_attention_heads ", c.heads);
    c.intermediate = enc.get_int_in("intermediate_size", 1, 4 * kMaxWidth);
    enc.get_choice("hidden_act", "gelu", {"gelu"});  // HF's "gelu": the exact erf form
    c.layer_norm_eps = enc.get_float("layer_norm_eps", 1e-12f);
    MOEASR_CHECK(c.layer_norm_eps >= 0, MOEASR_ERR_FORMAT, source, ": encoder.layer_norm_eps must be >= 0");
    c.patch_size = enc.get_int_in("patch_size", 1, kMaxMelBins, 16);
    c.frequency_stride = enc.get_int_in("frequency_stride", 1, kMaxMelBins, 10);
    c.time_stride = enc.get_int_in("time_stride", 1, kMaxFrames, 10);
    MOEASR_CHECK(c.patch_size <= c.num_mel_bins && c.patch_size <= c.max_length, MOEASR_ERR_FORMAT, source,
                 ": encoder.patch_size ", c.patch_size, " is larger than the spectrogram (", c.num_mel_bins,
                 " mel bins x ", c.max_length, " frames)");
    MOEASR_CHECK(int64_t{c.num_tokens()} * c.hidden <= (int64_t{1} << 28), MOEASR_ERR_FORMAT, source, ": ",
                 c.num_tokens(), " tokens of width ", c.hidden, " is too large");

    YamlSection head = section(root, "head", source, {"num_labels", "pooling", "score", "layernorm"});
    c.num_labels = head.get_int_in("num_labels", 1, kMaxLabels);
    const std::string pooling = head.get_choice("pooling", "cls_dist", {"cls_dist", "mean", "cls", "mean_all"});
    c.pooling = pooling == "mean"       ? AstPooling::kMean
                : pooling == "cls"      ? AstPooling::kCls
                : pooling == "mean_all" ? AstPooling::kMeanAll
                                        : AstPooling::kClsDist;
    c.head_layernorm = head.get<bool>("layernorm", true);
    c.score = head.get_choice("score", "sigmoid", {"sigmoid", "softmax"}) == "softmax" ? AstScore::kSoftmax
                                                                                       : AstScore::kSigmoid;
    if (root["adapter_conf"] && !root["adapter_conf"].IsNull()) {
      MOEASR_CHECK(root["adapter_conf"].IsMap(), MOEASR_ERR_FORMAT, source, ": adapter_conf is not a mapping");
      c.adapter = parse_ast_adapters(root["adapter_conf"], source, &c.adapter_self_attn_twice);
      MOEASR_CHECK(int64_t{c.layers} * 2 * (4 * int64_t{c.adapter.num_experts} + 2) <= int64_t{kMaxExpectedTensors},
                   MOEASR_ERR_FORMAT, source, ": adapter_conf.adapter_n_expert ", c.adapter.num_experts, " with ",
                   c.layers, " layers implies too many tensors");
    }
  } catch (const YAML::Exception& e) {
    throw_error(MOEASR_ERR_FORMAT, source, ": ", e.what());
  }
  return c;
}

std::vector<ExpectedTensor> expected_ast_tensors(const AstConfig& c) {
  std::vector<ExpectedTensor> out;
  const int64_t h = c.hidden;
  auto add = [&](const std::string& name, Shape shape, bool quantizable = false) {
    out.push_back({name, std::move(shape), quantizable});
  };
  auto linear = [&](const std::string& prefix, int64_t in, int64_t o) {
    add(prefix + ".weight", {o, in}, true);
    add(prefix + ".bias", {o});
  };
  auto layer_norm = [&](const std::string& prefix) {
    add(prefix + ".weight", {h});
    add(prefix + ".bias", {h});
  };
  const std::string body = "audio_spectrogram_transformer.";
  add(body + "embeddings.cls_token", {1, 1, h});
  add(body + "embeddings.distillation_token", {1, 1, h});
  add(body + "embeddings.position_embeddings", {1, c.num_tokens(), h});
  // Not quantizable: reshaped at load into a float32 [hidden, patch * patch] matrix.
  add(body + "embeddings.patch_embeddings.projection.weight", {h, 1, c.patch_size, c.patch_size});
  add(body + "embeddings.patch_embeddings.projection.bias", {h});
  for (int i = 0; i < c.layers; ++i) {
    const std::string l = ast_layer_prefix(i);
    linear(l + ".attention.attention.query", h, h);
    linear(l + ".attention.attention.key", h, h);
    linear(l + ".attention.attention.value", h, h);
    linear(l + ".attention.output.dense", h, h);
    linear(l + ".intermediate.dense", h, c.intermediate);
    linear(l + ".output.dense", c.intermediate, h);
    layer_norm(l + ".layernorm_before");
    layer_norm(l + ".layernorm_after");
    if (c.adapter.self_attn) append_adapter_tensors(l + ".adapter_self_attn", h, c.adapter, out);
    if (c.adapter.feed_forward) append_adapter_tensors(l + ".adapter_feed_forward", h, c.adapter, out);
  }
  layer_norm(body + "layernorm");
  if (c.head_layernorm) layer_norm("classifier.layernorm");
  linear("classifier.dense", h, c.num_labels);
  return out;
}

}  // namespace moeasr
