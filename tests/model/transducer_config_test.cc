// model: transducer (WeNet's Transducer: a U2++ model plus an RNN-T predictor
// and joiner): the train.yaml keys, the tensors they imply, the refusals, and
// decoding through the CTC + attention rescoring path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/mapped_file.h"
#include "formats/random_model.h"
#include "formats/weight_spec.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

std::string config_path(const std::string& name) { return test::data_path("../../configs/" + name); }

// A tiny conformer with a transducer half; `predictor` and `joint` are the
// yaml lines of predictor/predictor_conf and joint_conf.
std::string tiny_yaml(const std::string& predictor, const std::string& joint_conf) {
  return "output_dim: 12\nmodel: transducer\nencoder_conf:\n  output_size: 8\n  attention_heads: 2\n"
         "  linear_units: 16\n  num_blocks: 1\n  causal: true\n  use_dynamic_chunk: true\n"
         "decoder_conf:\n  num_blocks: 1\n  r_num_blocks: 1\n  linear_units: 16\n" +
         predictor + "joint_conf:\n" + joint_conf;
}

const char* kRnn = "predictor_conf:\n  embed_size: 6\n  output_size: 5\n  hidden_size: 7\n  num_layers: 2\n";
const char* kJoint = "  enc_output_size: 8\n  pred_output_size: 5\n  join_dim: 9\n";

bool has_tensor(const std::vector<ExpectedTensor>& ts, const std::string& name, Shape shape) {
  return std::any_of(ts.begin(), ts.end(), [&](const ExpectedTensor& t) {
    return t.name == name && t.shape == shape && !t.quantizable;
  });
}

TEST(TransducerConfig, RecipeParsesWithoutWarnings) {
  const ModelConfig c = parse_model_config(read_file(config_path("wenet_aishell_u2pp_rnnt.yaml")), "r", -1);
  ASSERT_TRUE(c.transducer.present);
  const PredictorConfig& p = c.transducer.predictor;
  EXPECT_EQ(p.type, PredictorType::kRnn);
  EXPECT_EQ(p.embed_size, 256);
  EXPECT_EQ(p.hidden_size, 256);
  EXPECT_EQ(p.num_layers, 2);
  EXPECT_TRUE(p.bias);
  const JointConfig& j = c.transducer.joint;
  EXPECT_EQ(j.join_dim, 512);
  EXPECT_TRUE(j.prejoin);
  EXPECT_FALSE(j.postjoin);
  EXPECT_EQ(j.activation, Activation::kTanh);
  EXPECT_EQ(c.decoder.type, DecoderType::kBiTransformer);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  // An asr_model ignores the transducer keys, as WeNet does.
  EXPECT_FALSE(parse_model_config("output_dim: 12\npredictor: conv\n", "a", -1).transducer.present);
}

TEST(TransducerConfig, RnnPredictorTensors) {
  const ModelConfig c = parse_model_config(tiny_yaml(kRnn, kJoint), "t", -1);
  const std::vector<ExpectedTensor> ts = expected_tensors(c);
  EXPECT_TRUE(has_tensor(ts, "predictor.embed.weight", {12, 6}));
  EXPECT_TRUE(has_tensor(ts, "predictor.rnn.weight_ih_l0", {28, 6}));
  EXPECT_TRUE(has_tensor(ts, "predictor.rnn.weight_ih_l1", {28, 7}));
  EXPECT_TRUE(has_tensor(ts, "predictor.rnn.weight_hh_l1", {28, 7}));
  EXPECT_TRUE(has_tensor(ts, "predictor.rnn.bias_hh_l1", {28}));
  EXPECT_TRUE(has_tensor(ts, "predictor.projection.weight", {5, 7}));
  EXPECT_TRUE(has_tensor(ts, "joint.enc_ffn.weight", {9, 8}));
  EXPECT_TRUE(has_tensor(ts, "joint.pred_ffn.weight", {9, 5}));
  EXPECT_TRUE(has_tensor(ts, "joint.ffn_out.weight", {12, 9}));
  EXPECT_TRUE(has_tensor(ts, "joint.ffn_out.bias", {12}));
  const ModelConfig nb = parse_model_config(tiny_yaml(std::string(kRnn) + "  bias: false\n", kJoint), "t", -1);
  EXPECT_FALSE(has_tensor(expected_tensors(nb), "predictor.rnn.bias_ih_l0", {28}));
}

TEST(TransducerConfig, EmbeddingAndConvPredictorTensors) {
  const std::string joint = "  enc_output_size: 8\n  pred_output_size: 6\n  join_dim: 8\n  postjoin_linear: true\n";
  const ModelConfig e = parse_model_config(
      tiny_yaml("predictor: embedding\npredictor_conf:\n  embed_size: 6\n  output_size: 6\n  n_head: 2\n"
                "  history_size: 3\n  bias: true\n",
                joint),
      "e", -1);
  EXPECT_EQ(e.transducer.predictor.type, PredictorType::kEmbedding);
  EXPECT_EQ(e.transducer.predictor.activation, Activation::kSwish);
  const std::vector<ExpectedTensor> et = expected_tensors(e);
  EXPECT_TRUE(has_tensor(et, "predictor.pos_embed.weight", {2, 24}));
  EXPECT_TRUE(has_tensor(et, "predictor.pos_embed.bias", {2}));
  EXPECT_TRUE(has_tensor(et, "predictor.ffn.weight", {6, 6}));
  EXPECT_TRUE(has_tensor(et, "predictor.norm.bias", {6}));
  EXPECT_TRUE(has_tensor(et, "joint.post_ffn.weight", {8, 8}));
  const ModelConfig v = parse_model_config(
      tiny_yaml("predictor: conv\npredictor_conf:\n  embed_size: 6\n  output_size: 6\n", joint), "v", -1);
  EXPECT_EQ(v.transducer.predictor.activation, Activation::kRelu);
  const std::vector<ExpectedTensor> vt = expected_tensors(v);
  EXPECT_TRUE(has_tensor(vt, "predictor.conv.weight", {6, 1, 3}));
  EXPECT_FALSE(has_tensor(vt, "predictor.conv.bias", {6}));
}

TEST(TransducerConfig, Refusals) {
  struct Case {
    std::string predictor, joint;
    moeasr_status status;
    const char* message;
  } cases[] = {
      {std::string(kRnn) + "  rnn_type: gru\n", kJoint, MOEASR_ERR_UNSUPPORTED, "(supported: lstm)"},
      {"predictor: cif\n" + std::string(kRnn), kJoint, MOEASR_ERR_UNSUPPORTED, "(supported: rnn, embedding, conv)"},
      {kRnn, std::string(kJoint) + "  hat_joint: true\n", MOEASR_ERR_UNSUPPORTED, "joint_conf.hat_joint"},
      {kRnn, std::string(kJoint) + "  joint_mode: concat\n", MOEASR_ERR_UNSUPPORTED, "(supported: add)"},
      {kRnn, "  enc_output_size: 6\n  pred_output_size: 5\n  join_dim: 9\n", MOEASR_ERR_FORMAT,
       "enc_output_size 6 != the encoder's output_size 8"},
      {kRnn, "  enc_output_size: 8\n  pred_output_size: 4\n  join_dim: 9\n", MOEASR_ERR_FORMAT,
       "pred_output_size 4 != predictor_conf.output_size 5"},
      {kRnn, std::string(kJoint) + "  prejoin_linear: false\n", MOEASR_ERR_FORMAT, "must be equal"},
      {"predictor_conf:\n  embed_size: 6\n  output_size: 5\n  num_layers: 2\n", kJoint, MOEASR_ERR_FORMAT,
       "predictor_conf.hidden_size is missing"},
      {"predictor: conv\npredictor_conf:\n  embed_size: 6\n  output_size: 5\n", kJoint, MOEASR_ERR_FORMAT,
       "embed_size 6 != output_size 5"},
      {"", kJoint, MOEASR_ERR_FORMAT, "needs a predictor_conf mapping"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(status_of([&] { parse_model_config(tiny_yaml(c.predictor, c.joint), "t", -1); }, &msg), c.status)
        << c.message;
    EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
  }
}

TEST(TransducerConfig, WeightsMustHoldEveryPredictorAndJointTensor) {
  const ModelConfig c = parse_model_config(tiny_yaml(kRnn, kJoint), "t", -1);
  std::vector<ExpectedTensor> ts = expected_tensors(c);
  ts.erase(std::remove_if(ts.begin(), ts.end(), [](const ExpectedTensor& t) { return t.name == "joint.ffn_out.bias"; }),
           ts.end());
  std::string msg;
  EXPECT_EQ(status_of([&] { validate_weights(*random_weights(ts, "w", 1), c); }, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("missing tensors required by train.yaml: joint.ffn_out.bias"), std::string::npos) << msg;
}

// A transducer model's CTC prefix beam search + attention rescoring runs as any U2++ model's.
TEST(TransducerConfig, DecodesThroughTheCtcAndRescoringPath) {
  auto model = AsrModel::from_model_dir(random_model_dir(tiny_yaml(kRnn, kJoint), "t", 5));
  std::vector<float> audio(16000);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.3f * std::sin(0.05f * i) * std::sin(0.0007f * i);
  for (int chunk : {-1, 4}) {
    DecodeOptions o;
    o.chunk_size = chunk;
    Stream s(model, o);
    s.accept_waveform(audio.data(), audio.size(), 16000);
    s.input_finished();
    s.decode();
    EXPECT_EQ(s.state(), Stream::State::kDone);
    EXPECT_EQ(s.stats().encoder_frames, 23) << "chunk " << chunk;
  }
}

// aishell's u2++ rnnt recipe shape (configs/, also moeasr-bench's) with random
// weights: full-size predictor and joiner, every search, chunked.
TEST(TransducerConfig, RecipeDecodesWithRandomWeightsInEverySearch) {
  const std::string name = "wenet_aishell_u2pp_rnnt.yaml";
  auto model = AsrModel::from_model_dir(random_model_dir(read_file(config_path(name)), name, 7));
  std::vector<float> audio(16000);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.3f * std::sin(0.05f * i) * std::sin(0.0007f * i);
  for (SearchMethod m : {SearchMethod::kCtc, SearchMethod::kTransducerGreedy, SearchMethod::kTransducerBeam}) {
    DecodeOptions o;
    o.search = m;
    o.nbest = 4;
    Stream s(model, o);
    s.accept_waveform(audio.data(), audio.size(), 16000);
    s.input_finished();
    s.decode();
    EXPECT_EQ(s.state(), Stream::State::kDone);
    EXPECT_EQ(s.stats().encoder_frames, 23);
    EXPECT_FALSE(s.final_result().nbest.empty());
  }
}

}  // namespace
}  // namespace moeasr
