// train.yaml values of encoder: branchformer and encoder: e_branchformer:
// their own defaults, the keys they take, and the refusals of what the
// runtime does not run (single-branch layers, learned_ave, per-block weights,
// the moeasr-only FFN kinds).
#include <gtest/gtest.h>

#include "formats/model_config.h"
#include "formats/weight_spec.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

ModelConfig parse(const std::string& encoder_conf, const std::string& encoder) {
  return parse_model_config("output_dim: 12\nencoder: " + encoder + "\nencoder_conf:\n  output_size: 8\n"
                            "  attention_heads: 2\n" + encoder_conf, "train.yaml", -1);
}

bool has_tensor(const ModelConfig& c, const std::string& name) {
  for (const ExpectedTensor& t : expected_tensors(c)) {
    if (t.name == name) return true;
  }
  return false;
}

TEST(BranchformerConfig, BranchformerTakesWeNetsDefaults) {
  const ModelConfig c = parse("", "branchformer");
  const EncoderConfig& e = c.encoder;
  EXPECT_EQ(e.type, EncoderType::kBranchformer);
  EXPECT_TRUE(e.branchformer());
  EXPECT_EQ(e.pos_enc, PosEnc::kRelPos);
  EXPECT_TRUE(e.rel_attention);
  EXPECT_EQ(e.cgmlp_units, 2048);
  EXPECT_EQ(e.cgmlp_kernel, 31);
  EXPECT_FALSE(e.cgmlp_linear_after_conv);
  EXPECT_TRUE(e.gate_identity);
  EXPECT_EQ(e.merge, MergeMethod::kConcat);
  EXPECT_FALSE(e.causal);
  EXPECT_FALSE(e.macaron);
  EXPECT_FALSE(e.use_cnn_module);
  EXPECT_FALSE(e.use_ffn);
  EXPECT_TRUE(c.warnings.empty());
  // No FFN tensors; the learned_ave projections WeNet always builds; merge_proj over [attention | cgMLP].
  EXPECT_FALSE(has_tensor(c, "encoder.encoders.0.feed_forward.w_1.weight"));
  EXPECT_TRUE(has_tensor(c, "encoder.encoders.0.pooling_proj1.weight"));
  EXPECT_TRUE(has_tensor(c, "encoder.encoders.0.attn.linear_pos.weight"));
  EXPECT_TRUE(has_tensor(c, "encoder.encoders.0.cgmlp.csgu.conv.weight"));
}

TEST(BranchformerConfig, AishellRecipeKeysAreAcceptedWithoutWarnings) {
  const ModelConfig c = parse(
      "  use_attn: true\n  selfattention_layer_type: rel_selfattn\n  pos_enc_layer_type: rel_pos\n"
      "  use_cgmlp: true\n  cgmlp_linear_units: 64\n  cgmlp_conv_kernel: 63\n  use_linear_after_conv: false\n"
      "  gate_activation: identity\n  merge_method: concat\n  cgmlp_weight: 0.5\n  attn_branch_drop_rate: 0.0\n"
      "  num_blocks: 2\n  dropout_rate: 0.1\n  positional_dropout_rate: 0.1\n  attention_dropout_rate: 0.1\n"
      "  input_layer: conv2d\n  stochastic_depth_rate: 0.0\n  causal: true\n  use_dynamic_chunk: true\n"
      "  use_dynamic_left_chunk: false\n",
      "branchformer");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_TRUE(c.encoder.causal);
  EXPECT_EQ(c.encoder.cgmlp_kernel, 63);  // even or odd: causal
  EXPECT_TRUE(c.encoder.trained_for_chunks());
  EXPECT_EQ(c.encoder.default_chunk_size(), 16);
}

TEST(BranchformerConfig, FixedAveWeightAndGate) {
  const ModelConfig c = parse("  merge_method: fixed_ave\n  cgmlp_weight: 0.25\n  gate_activation: tanh\n"
                              "  use_linear_after_conv: true\n",
                              "branchformer");
  EXPECT_EQ(c.encoder.merge, MergeMethod::kFixedAve);
  EXPECT_FLOAT_EQ(c.encoder.cgmlp_weight, 0.25f);
  EXPECT_FALSE(c.encoder.gate_identity);
  EXPECT_EQ(c.encoder.gate_activation, Activation::kTanh);
  EXPECT_TRUE(has_tensor(c, "encoder.encoders.1.cgmlp.csgu.linear.weight"));
}

TEST(BranchformerConfig, RefusesWhatTheRuntimeDoesNotRun) {
  struct Case {
    const char* conf;
    const char* encoder;
    const char* message;
  } cases[] = {
      {"  merge_method: learned_ave\n", "branchformer", "(supported: concat, fixed_ave)"},
      {"  use_attn: false\n", "branchformer", "use_attn: false is not supported"},
      {"  use_cgmlp: false\n", "branchformer", "use_cgmlp: false is not supported"},
      {"  merge_method: fixed_ave\n  cgmlp_weight: 1.0\n", "branchformer", "0 < cgmlp_weight < 1"},
      {"  merge_method: fixed_ave\n  cgmlp_weight: [0.5, 0.5]\n", "branchformer", "per-block list"},
      {"  gate_activation: sigmoid\n", "branchformer", "(supported: identity, relu, swish"},
      {"  mlp_type: mot\n  mot_group_size: 2\n", "e_branchformer",
       "supports position_wise_feed_forward and moe"},
      {"  layer_norm_type: rms_norm\n", "e_branchformer", "(supported: layer_norm)"},
  };
  for (const Case& k : cases) {
    std::string msg;
    EXPECT_EQ(status_of([&] { parse(k.conf, k.encoder); }, &msg), MOEASR_ERR_UNSUPPORTED) << k.conf;
    EXPECT_NE(msg.find(k.message), std::string::npos) << msg;
  }
  std::string msg;
  EXPECT_EQ(status_of([] { parse("  cgmlp_conv_kernel: 6\n", "branchformer"); }, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("must be odd"), std::string::npos) << msg;
  EXPECT_EQ(status_of([] { parse("  merge_conv_kernel: 4\n", "e_branchformer"); }, &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([] { parse("  cgmlp_linear_units: 7\n", "e_branchformer"); }, &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([] { parse("", "dual_conformer"); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("(supported: conformer, transformer, branchformer, e_branchformer, squeezeformer, efficientConformer)"),
            std::string::npos)
      << msg;
}

TEST(BranchformerConfig, EBranchformerFfnsAndItsKeys) {
  const ModelConfig c = parse("  linear_units: 16\n  mlp_type: moe\n  n_expert: 4\n  n_expert_activated: 2\n"
                              "  merge_conv_kernel: 31\n  activation_type: swish\n  conv_bias: true\n",
                              "e_branchformer");
  const EncoderConfig& e = c.encoder;
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_EQ(e.type, EncoderType::kEBranchformer);
  EXPECT_EQ(e.ffn.kind, FfnKind::kMoe);
  EXPECT_EQ(e.ffn.activation, Activation::kSwish);
  EXPECT_TRUE(e.macaron);
  EXPECT_TRUE(e.use_ffn);
  EXPECT_EQ(e.merge_conv_kernel, 31);
  EXPECT_FALSE(e.trained_for_chunks());  // no chunk training
  EXPECT_TRUE(has_tensor(c, "encoder.encoders.0.feed_forward_macaron.experts.3.w_2.weight"));
  EXPECT_TRUE(has_tensor(c, "encoder.encoders.0.depthwise_conv_fusion.weight"));
  EXPECT_FALSE(has_tensor(c, "encoder.encoders.0.pooling_proj1.weight"));
  // use_ffn: false drops both FFNs; macaron_style: false the macaron one.
  const ModelConfig none = parse("  use_ffn: false\n", "e_branchformer");
  EXPECT_FALSE(none.encoder.macaron);
  EXPECT_FALSE(has_tensor(none, "encoder.encoders.0.feed_forward.w_1.weight"));
  const ModelConfig plain = parse("  macaron_style: false\n", "e_branchformer");
  EXPECT_FALSE(plain.encoder.macaron);
  EXPECT_TRUE(has_tensor(plain, "encoder.encoders.0.feed_forward.w_1.weight"));
  EXPECT_FALSE(has_tensor(plain, "encoder.encoders.0.feed_forward_macaron.w_1.weight"));
}

TEST(BranchformerConfig, ConformerOnlyKeysAreUnknownToTheBranchformers) {
  const ModelConfig c = parse("  cnn_module_kernel: 15\n  normalize_before: true\n", "branchformer");
  EXPECT_EQ(c.warnings.size(), 2u);
}

}  // namespace
}  // namespace moeasr
