// train.yaml values of the encoder variants beyond WeNet's default conformer:
// encoder: transformer, the input layers (conv2d6/conv2d8/linear) with their
// streaming geometry, and the position encodings (abs_pos, no_pos).
#include <gtest/gtest.h>

#include "formats/model_config.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

ModelConfig parse(const std::string& encoder_conf, const std::string& encoder = "conformer") {
  return parse_model_config("output_dim: 12\nencoder: " + encoder + "\nencoder_conf:\n  output_size: 8\n"
                            "  attention_heads: 2\n" + encoder_conf, "train.yaml", -1);
}

TEST(EncoderVariantsConfig, TransformerTakesItsOwnDefaults) {
  const ModelConfig c = parse("", "transformer");
  const EncoderConfig& e = c.encoder;
  EXPECT_EQ(e.type, EncoderType::kTransformer);
  EXPECT_EQ(e.pos_enc, PosEnc::kAbsPos);  // TransformerEncoder's defaults: abs_pos, selfattn, relu
  EXPECT_FALSE(e.rel_attention);
  EXPECT_EQ(e.ffn.activation, Activation::kRelu);
  EXPECT_FALSE(e.macaron);
  EXPECT_FALSE(e.use_cnn_module);
  EXPECT_TRUE(e.final_norm);
}

TEST(EncoderVariantsConfig, TransformerWithMoeFfn) {
  const ModelConfig c = parse("  mlp_type: moe\n  n_expert: 4\n  n_expert_activated: 2\n", "transformer");
  EXPECT_EQ(c.encoder.ffn.kind, FfnKind::kMoe);
  EXPECT_EQ(c.encoder.ffn.top_k, 2);
}

TEST(EncoderVariantsConfig, TransformerRefusesRelativeAttentionAndAdapters) {
  std::string msg;
  EXPECT_EQ(status_of([] { parse("  selfattention_layer_type: rel_selfattn\n", "transformer"); }, &msg),
            MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("(supported: selfattn)"), std::string::npos) << msg;
  EXPECT_EQ(status_of([] { parse("  adapter_type: soft_moa\n", "transformer"); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("encoder: conformer only"), std::string::npos) << msg;
}

TEST(EncoderVariantsConfig, ConformerPositionAndAttentionAreIndependent) {
  const ModelConfig c = parse("  pos_enc_layer_type: no_pos\n  selfattention_layer_type: selfattn\n");
  EXPECT_EQ(c.encoder.type, EncoderType::kConformer);
  EXPECT_EQ(c.encoder.pos_enc, PosEnc::kNoPos);
  EXPECT_FALSE(c.encoder.rel_attention);
  EXPECT_EQ(parse("  pos_enc_layer_type: abs_pos\n").encoder.pos_enc, PosEnc::kAbsPos);
  EXPECT_TRUE(parse("  pos_enc_layer_type: abs_pos\n").encoder.rel_attention);
}

// WeNet's geometry: subsampling_rate, right_context, output lengths of the "valid" convolutions.
TEST(EncoderVariantsConfig, InputLayerGeometry) {
  struct Case {
    const char* name;
    int rate, right_context;
    int64_t frames, out;  // output frames for `frames` input frames
    int features;         // frequency bins left of 80
  } cases[] = {
      {"conv2d", 4, 6, 100, 24, 19},
      {"conv2d6", 6, 10, 100, 15, 12},
      {"conv2d8", 8, 14, 100, 11, 9},
      {"linear", 1, 0, 100, 100, 0},
  };
  for (const Case& k : cases) {
    const ModelConfig c = parse(std::string("  input_layer: ") + k.name + "\n");
    const EncoderConfig& e = c.encoder;
    EXPECT_EQ(e.subsampling_rate(), k.rate) << k.name;
    EXPECT_EQ(e.right_context(), k.right_context) << k.name;
    EXPECT_EQ(e.output_frames(k.frames), k.out) << k.name;
    EXPECT_EQ(e.subsampled_features(), k.features) << k.name;
    // right_context + 1 frames make the first output frame, one fewer none.
    EXPECT_EQ(e.output_frames(k.right_context + 1), 1) << k.name;
    EXPECT_EQ(e.output_frames(k.right_context), 0) << k.name;
    // A chunk of c frames needs (c - 1) * rate + right_context + 1 input frames.
    EXPECT_EQ(e.output_frames(int64_t{15} * k.rate + k.right_context + 1), 16) << k.name;
  }
}

TEST(EncoderVariantsConfig, InputDimTooSmallForTheSubsamplingIsAFormatError) {
  std::string msg;
  EXPECT_EQ(status_of([] {
              parse_model_config("output_dim: 12\ninput_dim: 14\ndataset_conf:\n  fbank_conf:\n    num_mel_bins: 14\n"
                                 "encoder_conf:\n  input_layer: conv2d8\n", "train.yaml", -1);
            }, &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("too small for input_layer conv2d8"), std::string::npos) << msg;
}

}  // namespace
}  // namespace moeasr
