// train.yaml values of encoder: squeezeformer: WeNet's defaults, the keys of
// librispeech's recipes, the tensors a model must hold, and the refusals of
// what the runtime does not run (conv2d time reduction, several reductions,
// final_proj, ...), each naming what is supported.
#include <gtest/gtest.h>

#include "formats/model_config.h"
#include "formats/weight_spec.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

ModelConfig parse(const std::string& encoder_conf) {
  return parse_model_config("output_dim: 12\nencoder: squeezeformer\nencoder_conf:\n  encoder_dim: 8\n"
                            "  output_size: 8\n  attention_heads: 2\n" + encoder_conf,
                            "train.yaml", -1);
}

const ExpectedTensor* find(const std::vector<ExpectedTensor>& all, const std::string& name) {
  for (const ExpectedTensor& t : all) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The message of refusing `encoder_conf` (empty when it loads).
std::string refusal(const std::string& encoder_conf) {
  std::string msg;
  status_of([&] { parse(encoder_conf); }, &msg);
  return msg;
}

TEST(SqueezeformerConfig, TakesWeNetsDefaults) {
  const ModelConfig c = parse("");
  const EncoderConfig& e = c.encoder;
  EXPECT_TRUE(e.squeezeformer());
  EXPECT_EQ(e.num_blocks, 12);
  EXPECT_EQ(e.reduce_idx, 5);
  EXPECT_EQ(e.recover_idx, 11);
  EXPECT_EQ(e.time_reduction, TimeReduction::kConv1d);
  EXPECT_TRUE(e.adaptive_scale);
  EXPECT_TRUE(e.rel_shift);  // do_rel_shift
  EXPECT_EQ(e.cnn_kernel, 31);
  EXPECT_EQ(e.cnn_norm, ConvNorm::kBatchNorm);
  EXPECT_FALSE(e.causal);
  EXPECT_EQ(e.ffn.hidden, 4 * 8);
  EXPECT_EQ(e.ffn.activation, Activation::kSwish);
  EXPECT_FALSE(e.final_norm);
  EXPECT_EQ(e.subsampling_rate(), 4);
  EXPECT_EQ(e.right_context(), 6);
  EXPECT_FALSE(e.reduced_block(4));
  EXPECT_TRUE(e.reduced_block(5));
  EXPECT_TRUE(e.reduced_block(10));
  EXPECT_FALSE(e.reduced_block(11));
  EXPECT_TRUE(c.warnings.empty());
}

TEST(SqueezeformerConfig, U2ppRecipeKeysAreAcceptedWithoutWarnings) {
  // examples/librispeech/s0/conf/train_u2++_squeezeformer.yaml's encoder_conf (smaller dims).
  const ModelConfig c = parse(
      "  num_blocks: 12\n  reduce_idx: 5\n  recover_idx: 11\n  time_reduction_layer_type: \"stream\"\n"
      "  feed_forward_expansion_factor: 8\n  input_dropout_rate: 0.1\n  feed_forward_dropout_rate: 0.1\n"
      "  attention_dropout_rate: 0.1\n  cnn_module_kernel: 31\n  cnn_norm_type: layer_norm\n"
      "  adaptive_scale: true\n  normalize_before: false\n  causal: true\n  use_dynamic_chunk: true\n"
      "  use_dynamic_left_chunk: false\n  do_rel_shift: false\n");
  const EncoderConfig& e = c.encoder;
  EXPECT_FALSE(e.rel_shift);
  EXPECT_EQ(e.time_reduction, TimeReduction::kStream);
  EXPECT_EQ(e.ffn.hidden, 64);
  EXPECT_EQ(e.cnn_norm, ConvNorm::kLayerNorm);
  EXPECT_TRUE(e.trained_for_chunks());
  EXPECT_EQ(e.default_chunk_size(), 16);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(SqueezeformerConfig, ListsOfOneIndexAreIndices) {
  const EncoderConfig e = parse("  num_blocks: 4\n  reduce_idx: [1]\n  recover_idx: [3]\n").encoder;
  EXPECT_EQ(e.reduce_idx, 1);
  EXPECT_EQ(e.recover_idx, 3);
}

TEST(SqueezeformerConfig, TensorsOfAStreamModel) {
  const ModelConfig c = parse("  num_blocks: 3\n  reduce_idx: 1\n  recover_idx: 2\n  cnn_norm_type: layer_norm\n"
                              "  time_reduction_layer_type: stream\n  causal: true\n  cnn_module_kernel: 4\n");
  const std::vector<ExpectedTensor> all = expected_tensors(c);
  for (const char* name :
       {"encoder.embed.pw_conv.weight", "encoder.embed.dw_conv.weight", "encoder.embed.input_proj.0.weight",
        "encoder.preln.weight", "encoder.encoders.2.self_attn.ada_scale", "encoder.encoders.0.ffn1.w_1.weight",
        "encoder.encoders.1.ffn2.ada_bias", "encoder.encoders.1.conv_module.ada_scale",
        "encoder.encoders.0.layer_norm4.bias", "encoder.time_recover_layer.weight"}) {
    EXPECT_TRUE(find(all, name)) << name;
  }
  const ExpectedTensor* dw = find(all, "encoder.time_reduction_layer.dw_conv.weight");
  ASSERT_TRUE(dw);
  EXPECT_EQ(dw->shape, (Shape{8, 1, 1}));  // stream: kernel 1
  EXPECT_FALSE(find(all, "encoder.after_norm.weight"));
  EXPECT_FALSE(find(all, "encoder.encoders.0.conv_module.norm.running_mean"));  // layer_norm
  // The converter's Linear pattern: attention, FFNs and pointwise convolutions; not the input layer.
  EXPECT_TRUE(find(all, "encoder.encoders.0.ffn2.w_2.weight")->quantizable);
  EXPECT_FALSE(find(all, "encoder.embed.input_proj.0.weight")->quantizable);
  EXPECT_FALSE(find(all, "encoder.time_reduction_layer.pw_conv.weight")->quantizable);
}

TEST(SqueezeformerConfig, Conv1dReductionHasKernelFive) {
  const std::vector<ExpectedTensor> all = expected_tensors(parse(""));
  const ExpectedTensor* dw = find(all, "encoder.time_reduction_layer.dw_conv.weight");
  ASSERT_TRUE(dw);
  EXPECT_EQ(dw->shape, (Shape{8, 1, 5}));
}

TEST(SqueezeformerConfig, RefusesWhatTheRuntimeDoesNotRunNamingTheSupported) {
  std::string msg;
  EXPECT_NE(refusal("  time_reduction_layer_type: conv2d\n").find("(supported: conv1d, stream)"), std::string::npos);
  EXPECT_NE(refusal("  reduce_idx: [1, 3]\n  recover_idx: [5, 7]\n").find("one block index"), std::string::npos);
  EXPECT_NE(refusal("  reduce_idx: 5\n  recover_idx: null\n").find("one block index"), std::string::npos);
  EXPECT_NE(refusal("  reduce_idx: 6\n  recover_idx: 4\n").find("0 < reduce_idx < recover_idx"), std::string::npos);
  EXPECT_EQ(status_of([] {
              parse_model_config("output_dim: 12\nencoder: squeezeformer\nencoder_conf:\n  encoder_dim: 8\n"
                                 "  output_size: 16\n  attention_heads: 2\n",
                                 "train.yaml", -1);
            },
                      &msg),
            MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("equal to encoder_dim"), std::string::npos) << msg;
  EXPECT_EQ(status_of([] {
              parse_model_config("output_dim: 12\nencoder: squeezeformer\nencoder_conf:\n  encoder_dim: 8\n"
                                 "  output_size: 8\n  attention_heads: 3\n",
                                 "train.yaml", -1);
            },
                      &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("encoder_conf.encoder_dim 8 is not divisible by attention_heads 3"), std::string::npos) << msg;
  EXPECT_NE(refusal("  dw_stride: true\n").find("dw_stride: true is not supported"), std::string::npos);
  EXPECT_NE(refusal("  normalize_before: true\n").find("normalize_before: true is not supported"),
            std::string::npos);
  EXPECT_NE(refusal("  concat_after: true\n").find("concat_after"), std::string::npos);
  EXPECT_NE(refusal("  pos_enc_layer_type: abs_pos\n").find("(supported: rel_pos)"), std::string::npos);
  EXPECT_NE(refusal("  static_chunk_size: 16\n").find("supported: 0"), std::string::npos);
  EXPECT_NE(refusal("  cnn_module_kernel: 4\n").find("must be odd"), std::string::npos);
  // SqueezeformerEncoder takes no mlp_type: an unknown key, reported.
  const ModelConfig c = parse("  mlp_type: moe\n");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("encoder_conf.mlp_type"), std::string::npos);
}

}  // namespace
}  // namespace moeasr
