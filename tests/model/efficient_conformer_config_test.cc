// train.yaml values of encoder: efficientConformer: WeNet's defaults,
// efficient_conf (in its own mapping or in encoder_conf), the per-layer
// strides, groups and kernels it implies, the tensors it expects, and the
// refusals of what the runtime does not run.
#include <gtest/gtest.h>

#include "formats/model_config.h"
#include "formats/weight_spec.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

ModelConfig parse(const std::string& encoder_conf) {
  return parse_model_config("output_dim: 12\nencoder: efficientConformer\nencoder_conf:\n  output_size: 8\n"
                            "  attention_heads: 2\n" + encoder_conf, "train.yaml", -1);
}

const ExpectedTensor* find_tensor(const std::vector<ExpectedTensor>& tensors, const std::string& name) {
  for (const ExpectedTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(EfficientConformerConfig, WeNetsDefaults) {
  const ModelConfig c = parse("");
  const EncoderConfig& e = c.encoder;
  EXPECT_EQ(e.type, EncoderType::kEfficientConformer);
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(e.num_blocks, 6);
  EXPECT_EQ(e.stride_layers, std::vector<int>{3});
  EXPECT_EQ(e.group_layers, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(e.group_size, 3);
  EXPECT_TRUE(e.stride_kernel);
  EXPECT_EQ(e.cnn_norm, ConvNorm::kBatchNorm);
  EXPECT_EQ(e.ffn.kind, FfnKind::kDense);
  EXPECT_EQ(e.ffn.activation, Activation::kSwish);
  EXPECT_EQ(e.total_stride(), 2);
  // Layer 3 strides with kernel 15; the layers after it run at half rate with kernel 7.
  EXPECT_EQ(e.layer_stride(3), 2);
  EXPECT_EQ(e.layer_stride(2), 1);
  EXPECT_EQ(e.layer_kernel(3), 15);
  EXPECT_EQ(e.layer_kernel(4), 7);
  EXPECT_EQ(e.rate_before(3), 1);
  EXPECT_EQ(e.rate_before(4), 2);
  EXPECT_EQ(e.layer_group(3), 3);
  EXPECT_EQ(e.layer_group(4), 1);
  // conv2d: 4 * 2 feature frames per output frame.
  EXPECT_EQ(e.embedded_frames(67), 16);
  EXPECT_EQ(e.output_frames(67), 8);
  EXPECT_EQ(e.output_frames(63), 8);  // 15 frames, then 8 (the last one alone)
  EXPECT_FALSE(e.trained_for_chunks());
}

TEST(EfficientConformerConfig, RecipeKeysAndTheirTensors) {
  // examples/aishell/s0/conf/train_u2++_efficonformer_v2.yaml's encoder_conf (smaller).
  const ModelConfig c = parse(
      "  activation_type: swish\n  causal: false\n  cnn_module_kernel: 15\n  cnn_module_norm: layer_norm\n"
      "  dropout_rate: 0.1\n  input_layer: conv2d2\n  linear_units: 16\n  normalize_before: true\n"
      "  num_blocks: 12\n  pos_enc_layer_type: rel_pos\n  positional_dropout_rate: 0.1\n"
      "  attention_dropout_rate: 0.1\n  use_cnn_module: true\n  use_dynamic_chunk: true\n"
      "  use_dynamic_left_chunk: false\n  efficient_conf:\n    stride_layer_idx: [3, 7]\n    stride: [2, 2]\n"
      "    group_layer_idx: [3, 7]\n    group_size: 3\n    stride_kernel: false\n");
  const EncoderConfig& e = c.encoder;
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_EQ(e.input_layer, InputLayer::kConv2d2);
  EXPECT_EQ(e.subsampling_rate(), 2);
  EXPECT_EQ(e.right_context(), 2);
  EXPECT_EQ(e.total_stride(), 4);
  EXPECT_EQ(e.layer_kernel(11), 15);  // stride_kernel: false
  EXPECT_EQ(e.embedded_frames(33), 16);
  EXPECT_EQ(e.output_frames(33), 4);
  EXPECT_FALSE(e.trained_for_chunks());  // not causal
  const std::vector<ExpectedTensor> tensors = expected_tensors(c);
  const ExpectedTensor* u = find_tensor(tensors, "encoder.encoders.3.self_attn.pos_bias_u");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->shape, (Shape{2, 12}));  // heads of group_size * d_k columns
  ASSERT_TRUE(find_tensor(tensors, "encoder.encoders.2.self_attn.pos_bias_u"));
  EXPECT_EQ(find_tensor(tensors, "encoder.encoders.2.self_attn.pos_bias_u")->shape, (Shape{2, 4}));
  // The strided layers' unused concat_linear is expected (WeNet saves it), the others' not.
  EXPECT_TRUE(find_tensor(tensors, "encoder.encoders.7.concat_linear.weight"));
  EXPECT_FALSE(find_tensor(tensors, "encoder.encoders.6.concat_linear.weight"));
  ASSERT_TRUE(find_tensor(tensors, "encoder.embed.out.0.weight"));
  EXPECT_EQ(find_tensor(tensors, "encoder.embed.out.0.weight")->shape, (Shape{8, 8 * 39}));
  EXPECT_FALSE(find_tensor(tensors, "encoder.embed.conv.2.weight"));
}

TEST(EfficientConformerConfig, KeysInEncoderConfAndKernelsPerLayer) {
  const ModelConfig c = parse("  num_blocks: 4\n  causal: true\n  cnn_module_kernel: 8\n  use_dynamic_chunk: true\n"
                              "  stride_layer_idx: 1\n  stride: 2\n  group_layer_idx: 2\n  group_size: 2\n");
  const EncoderConfig& e = c.encoder;
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_EQ(e.stride_layers, std::vector<int>{1});
  EXPECT_EQ(e.group_layers, std::vector<int>{2});
  EXPECT_EQ(e.layer_kernel(1), 8);
  EXPECT_EQ(e.layer_kernel(2), 4);
  EXPECT_TRUE(e.trained_for_chunks());
  EXPECT_EQ(e.default_chunk_size(), 16);
  const std::vector<ExpectedTensor> tensors = expected_tensors(c);
  const ExpectedTensor* dw = find_tensor(tensors, "encoder.encoders.3.conv_module.depthwise_conv.weight");
  ASSERT_TRUE(dw);
  EXPECT_EQ(dw->shape, (Shape{8, 1, 4}));
}

TEST(EfficientConformerConfig, ConformerKeysItDoesNotTakeAreUnknown) {
  // WeNet's EfficientConformerEncoder swallows them unused: reported, not applied.
  const ModelConfig c = parse("  query_bias: false\n  norm_eps: 1.0e-6\n");
  EXPECT_EQ(c.warnings.size(), 2u);
  EXPECT_TRUE(c.encoder.query_bias);
  EXPECT_FLOAT_EQ(c.encoder.norm_eps, 1e-5f);
}

TEST(EfficientConformerConfig, RefusesWhatTheRuntimeDoesNotRun) {
  struct Case {
    const char* conf;
    moeasr_status status;
    const char* message;
  } cases[] = {
      {"  efficient_conf:\n    stride: [3]\n", MOEASR_ERR_UNSUPPORTED, "(supported: 2)"},
      {"  pos_enc_layer_type: abs_pos\n", MOEASR_ERR_UNSUPPORTED, "(supported: rel_pos)"},
      {"  input_layer: linear\n", MOEASR_ERR_UNSUPPORTED, "(supported: conv2d2, conv2d, conv2d6, conv2d8)"},
      {"  static_chunk_size: 4\n", MOEASR_ERR_UNSUPPORTED, "static_chunk_size 4 is not supported"},
      {"  use_cnn_module: false\n", MOEASR_ERR_UNSUPPORTED, "use_cnn_module: false is not supported"},
      {"  mlp_type: moe\n", MOEASR_ERR_UNSUPPORTED, "dense FFNs only"},
      {"  efficient_conf:\n    stride_layer_idx: [3, 1]\n    stride: [2, 2]\n", MOEASR_ERR_FORMAT,
       "must be increasing layer indices"},
      {"  efficient_conf:\n    stride_layer_idx: [1, 3]\n", MOEASR_ERR_FORMAT, "one entry per stride_layer_idx"},
      {"  efficient_conf:\n    group_layer_idx: [0, 6]\n", MOEASR_ERR_FORMAT, "distinct layer indices in [0, 6)"},
      {"  stride: 2\n  efficient_conf:\n    stride: 2\n", MOEASR_ERR_FORMAT, "given in both"},
      {"  cnn_module_kernel: 13\n", MOEASR_ERR_FORMAT, "is 6; it must be odd"},
  };
  for (const Case& k : cases) {
    std::string msg;
    EXPECT_EQ(status_of([&] { parse(k.conf); }, &msg), k.status) << k.conf;
    EXPECT_NE(msg.find(k.message), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace moeasr
