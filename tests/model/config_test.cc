#include "formats/model_config.h"

#include <gtest/gtest.h>

#include "model/test_configs.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

// Replaces the first occurrence of `from` in `s`.
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  size_t pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

moeasr_status parse_status(const std::string& yaml, std::string* msg) {
  return status_of([&] { parse_model_config(yaml, "train.yaml", 10); }, msg);
}

TEST(ConfigTest, ParsesWenetTrainYaml) {
  ModelConfig c = parse_model_config(test::tiny_moe_yaml(), "train.yaml", 10);
  EXPECT_EQ(c.encoder.d_model, 16);
  EXPECT_EQ(c.encoder.heads, 2);
  EXPECT_EQ(c.encoder.d_k(), 8);
  EXPECT_EQ(c.encoder.num_blocks, 2);
  EXPECT_TRUE(c.encoder.ffn.moe());
  EXPECT_EQ(c.encoder.ffn.num_experts, 4);
  EXPECT_EQ(c.encoder.ffn.top_k, 2);
  EXPECT_EQ(c.encoder.ffn.activation, Activation::kSwish);
  EXPECT_TRUE(c.encoder.causal);
  EXPECT_EQ(c.encoder.cnn_norm, ConvNorm::kLayerNorm);
  EXPECT_TRUE(c.encoder.global_cmvn);
  EXPECT_EQ(c.encoder.subsampled_features(), 19);
  EXPECT_EQ(c.decoder.type, DecoderType::kBiTransformer);
  EXPECT_EQ(c.decoder.r_num_blocks, 1);
  EXPECT_EQ(c.decoder.ffn.activation, Activation::kRelu);
  EXPECT_TRUE(c.decoder.ffn.moe());
  EXPECT_EQ(c.vocab_size, 10);
  EXPECT_EQ(c.sos_id, 9);
  EXPECT_EQ(c.eos_id, 9);
  EXPECT_FLOAT_EQ(c.train_reverse_weight, 0.3f);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0];
}

TEST(ConfigTest, WenetDefaultsApplyWhenKeysAreAbsent) {
  ModelConfig c = parse_model_config("output_dim: 12\nencoder_conf:\n  output_size: 8\n  attention_heads: 2\n",
                                     "train.yaml", -1);
  EXPECT_EQ(c.encoder.input_dim, 80);
  EXPECT_EQ(c.encoder.cnn_kernel, 15);
  EXPECT_EQ(c.encoder.cnn_norm, ConvNorm::kBatchNorm);
  EXPECT_FALSE(c.encoder.causal);
  EXPECT_FALSE(c.encoder.ffn.moe());
  EXPECT_FALSE(c.encoder.global_cmvn);
  EXPECT_EQ(c.decoder.type, DecoderType::kBiTransformer);
  EXPECT_EQ(c.sos_id, 11);
  EXPECT_EQ(c.eos_id, 11);
}

TEST(ConfigTest, NullDecoderMeansCtcOnly) {
  ModelConfig c = parse_model_config("output_dim: 12\ndecoder: null\n", "train.yaml", -1);
  EXPECT_EQ(c.decoder.type, DecoderType::kNone);
}

TEST(ConfigTest, UnsupportedValuesNameKeyAndValue) {
  struct Case {
    std::string from, to, expect;
  } cases[] = {
      {"encoder: conformer", "encoder: dual_conformer",
       "(supported: conformer, transformer, branchformer, e_branchformer, squeezeformer, efficientConformer)"},
      {"input_layer: conv2d", "input_layer: conv2d2", "(supported: conv2d, conv2d6, conv2d8, linear)"},
      {"cnn_module_norm: layer_norm", "cnn_module_norm: rms_norm", "encoder_conf.cnn_module_norm: 'rms_norm'"},
      {"pos_enc_layer_type: rel_pos", "pos_enc_layer_type: rope_pos", "(supported: rel_pos, abs_pos, no_pos)"},
      {"selfattention_layer_type: rel_selfattn", "selfattention_layer_type: shaw_rel_selfattn",
       "(supported: rel_selfattn, selfattn)"},
      {"activation_type: swish", "activation_type: mish", "encoder_conf.activation_type: 'mish'"},
      {"normalize_before: true", "normalize_before: false", "encoder_conf.normalize_before"},
      {"decoder: bitransformer", "decoder: sanm_decoder", "decoder: 'sanm_decoder'"},
      {"model: asr_model", "model: paraformer", "model: 'paraformer' is not supported by this runtime (supported: asr_model, transducer)"},
      {"mlp_type: moe", "mlp_type: gated", "encoder_conf.mlp_type: 'gated'"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(parse_status(replaced(test::tiny_moe_yaml(), c.from, c.to), &msg), MOEASR_ERR_UNSUPPORTED) << c.to;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(ConfigTest, InvalidValuesAreFormatErrors) {
  struct Case {
    std::string from, to, expect;
  } cases[] = {
      {"n_expert_activated: 2", "n_expert_activated: 5", "n_expert_activated must be in [1, n_expert=4]"},
      {"output_size: 16", "output_size: 15", "not divisible"},
      {"num_blocks: 2", "num_blocks: -2", "encoder_conf.num_blocks must be positive"},
      {"output_size: 16", "output_size: sixteen", "encoder_conf.output_size has an invalid value 'sixteen'"},
      {"output_dim: 10", "output_dim: 11", "does not match the 10 entries of units.txt"},
      {"<sos>: 9", "<sos>: 10", "outside the vocabulary"},
      {"causal: true", "causal: false", "must be odd"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(parse_status(replaced(test::tiny_moe_yaml(), c.from, c.to), &msg), MOEASR_ERR_FORMAT) << c.to;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(ConfigTest, BrokenYamlIsFormatError) {
  std::string msg;
  EXPECT_EQ(parse_status("encoder_conf: [unclosed", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
  EXPECT_EQ(parse_status("- just\n- a list\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status("encoder_conf: 3\n", &msg), MOEASR_ERR_FORMAT);
}

TEST(ConfigTest, UnknownKeysBecomeWarnings) {
  ModelConfig c = parse_model_config(replaced(test::tiny_moe_yaml(), "num_blocks: 2", "num_blocks: 2\n  shiny_new_option: 3"),
                                     "train.yaml", 10);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("encoder_conf.shiny_new_option"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsIoError) {
  EXPECT_EQ(status_of([] { load_model_config("/nonexistent/train.yaml", 10); }), MOEASR_ERR_IO);
}

}  // namespace
}  // namespace moeasr
