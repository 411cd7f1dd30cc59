// Mixture-of-Tokens configuration keys, the tensors they imply, and a random
// MoT model running end to end.
#include <gtest/gtest.h>

#include <algorithm>

#include "formats/model_config.h"
#include "formats/random_model.h"
#include "model/test_configs.h"
#include "formats/weight_spec.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

// tiny_moe_yaml with its encoder FFN turned into MoT (`extra` appended to encoder_conf).
std::string mot_yaml(const std::string& extra = "  mot_group_size: 4\n") {
  std::string y = test::tiny_moe_yaml();
  const std::string moe = "  mlp_type: moe\n  n_expert: 4\n  n_expert_activated: 2\n";
  const size_t pos = y.find(moe);  // the first one is encoder_conf's
  EXPECT_NE(pos, std::string::npos);
  return y.replace(pos, moe.size(), "  mlp_type: mot\n  n_expert: 4\n" + extra);
}

TEST(MotConfig, ParsesKeysWithTheirDefaults) {
  ModelConfig c = parse_model_config(mot_yaml(), "train.yaml", 10);
  const FfnConfig& f = c.encoder.ffn;
  EXPECT_EQ(f.kind, FfnKind::kMot);
  EXPECT_FALSE(f.moe());
  EXPECT_EQ(f.num_experts, 4);
  EXPECT_EQ(f.group_size, 4);
  EXPECT_FLOAT_EQ(f.temperature, 1.f);
  EXPECT_EQ(f.grouping, MotGrouping::kCrossExample);
  EXPECT_FALSE(f.bias);  // MoT experts have no bias unless mlp_bias says so
  EXPECT_EQ(f.hidden, 24);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0];

  c = parse_model_config(
      mot_yaml("  mot_group_size: 8\n  mot_temperature: 0.25\n  mot_grouping: within_sequence\n  mlp_bias: true\n"),
      "train.yaml", 10);
  EXPECT_EQ(c.encoder.ffn.group_size, 8);
  EXPECT_FLOAT_EQ(c.encoder.ffn.temperature, 0.25f);
  EXPECT_EQ(c.encoder.ffn.grouping, MotGrouping::kWithinSequence);
  EXPECT_TRUE(c.encoder.ffn.bias);
}

TEST(MotConfig, BadValuesNameKeyAndValue) {
  struct Case {
    std::string extra;
    moeasr_status status;
    std::string expect;
  } cases[] = {
      {"", MOEASR_ERR_FORMAT, "encoder_conf.mot_group_size is required"},
      {"  mot_group_size: 0\n", MOEASR_ERR_FORMAT, "encoder_conf.mot_group_size must be in [1, 4096], got 0"},
      {"  mot_group_size: 4\n  mot_temperature: 0\n", MOEASR_ERR_FORMAT, "encoder_conf.mot_temperature must be positive"},
      {"  mot_group_size: 4\n  mot_grouping: per_batch\n", MOEASR_ERR_UNSUPPORTED,
       "encoder_conf.mot_grouping: 'per_batch' is not supported"},
      {"  mot_group_size: 4\n  n_expert: 0\n", MOEASR_ERR_FORMAT, "encoder_conf.n_expert must be >= 1"},
  };
  for (const Case& c : cases) {
    std::string msg;
    std::string yaml = mot_yaml(c.extra);
    if (c.extra.find("n_expert: 0") != std::string::npos) yaml.replace(yaml.find("  n_expert: 4\n"), 14, "");
    EXPECT_EQ(status_of([&] { parse_model_config(yaml, "train.yaml", 10); }, &msg), c.status) << c.extra;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(MotConfig, TheDecoderRefusesMixtureOfTokens) {
  std::string y = test::tiny_moe_yaml();
  const std::string moe = "  mlp_type: moe\n  n_expert: 4\n  n_expert_activated: 2\n";
  y.replace(y.rfind(moe), moe.size(), "  mlp_type: mot\n  n_expert: 4\n  mot_group_size: 2\n");
  std::string msg;
  EXPECT_EQ(status_of([&] { parse_model_config(y, "train.yaml", 10); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("decoder_conf.mlp_type: 'mot'"), std::string::npos) << msg;
}

TEST(MotConfig, ImpliesAControllerAndBiasFreeExperts) {
  const ModelConfig c = parse_model_config(mot_yaml(), "train.yaml", 10);
  const std::vector<ExpectedTensor> t = expected_tensors(c);
  auto find = [&](const std::string& name) {
    return std::find_if(t.begin(), t.end(), [&](const ExpectedTensor& e) { return e.name == name; });
  };
  for (const char* ffn : {"feed_forward", "feed_forward_macaron"}) {
    const std::string p = std::string("encoder.encoders.1.") + ffn;
    const auto controller = find(p + ".controller.weight");
    ASSERT_NE(controller, t.end()) << p;
    EXPECT_EQ(controller->shape, (Shape{4, 16}));
    EXPECT_FALSE(controller->quantizable);  // stays float32, like a router
    EXPECT_EQ(find(p + ".gate.weight"), t.end());
    EXPECT_EQ(find(p + ".experts.3.w_1.weight")->shape, (Shape{24, 16}));
    EXPECT_EQ(find(p + ".experts.3.w_2.weight")->shape, (Shape{16, 24}));
    EXPECT_EQ(find(p + ".experts.3.w_1.bias"), t.end());
  }
  // The decoder keeps its top-k MoE.
  EXPECT_NE(find("decoder.left_decoder.decoders.0.feed_forward.gate.weight"), t.end());
}

// Random weights for both groupings: the within-sequence model streams, the
// cross-example one is refused by streams.
TEST(MotConfig, RandomModelsLoadAndWithinSequenceStreams) {
  auto within = AsrModel::from_model_dir(
      random_model_dir(mot_yaml("  mot_group_size: 3\n  mot_grouping: within_sequence\n"), "mot.yaml", 1));
  DecodeOptions o;
  o.chunk_size = 4;
  Stream s(within, o);
  std::vector<float> audio(16000);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.1f * std::sin(0.01f * static_cast<float>(i * i % 9973));
  s.accept_waveform(audio.data(), audio.size(), 16000);
  s.input_finished();
  s.decode();
  EXPECT_EQ(s.state(), Stream::State::kDone);
  EXPECT_EQ(s.stats().encoder_frames, 23);  // 98 fbank frames

  auto cross = AsrModel::from_model_dir(random_model_dir(mot_yaml(), "mot.yaml", 1));
  EXPECT_TRUE(cross->encoder().mixes_examples());
  EXPECT_FALSE(within->encoder().mixes_examples());
  EXPECT_EQ(status_of([&] { Stream t(cross, o); }), MOEASR_ERR_UNSUPPORTED);
}

}  // namespace
}  // namespace moeasr
