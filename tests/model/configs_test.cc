// The shipped configs: they parse, the paper-shaped ones have the parameter
// counts the benchmark issue asks for, and the small ones build and decode
// with random weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/mapped_file.h"
#include "formats/random_model.h"
#include "formats/weight_spec.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

std::string config_path(const std::string& name) { return test::data_path("../../configs/" + name); }

// One second of a speech-like signal at 16 kHz.
const std::vector<float>& one_second() {
  static const std::vector<float> audio = [] {
    std::vector<float> a(16000);
    for (size_t i = 0; i < a.size(); ++i) a[i] = 0.3f * std::sin(0.05f * i) * std::sin(0.0007f * i);
    return a;
  }();
  return audio;
}

// A stream of `model` that has decoded one_second() whole, in chunks of `chunk` frames.
std::unique_ptr<Stream> decoded(const std::shared_ptr<const AsrModel>& model, int chunk) {
  DecodeOptions o;
  o.chunk_size = chunk;
  auto s = std::make_unique<Stream>(model, o);
  s->accept_waveform(one_second().data(), one_second().size(), 16000);
  s->input_finished();
  s->decode();
  return s;
}

int64_t params(const std::string& name) {
  const ModelConfig c = parse_model_config(read_file(config_path(name)), name, -1);
  int64_t n = 0;
  for (const ExpectedTensor& t : expected_tensors(c)) n += shape_numel(t.shape);
  return n;
}

TEST(Configs, PaperShapesHaveTheirParameterCounts) {
  EXPECT_NEAR(params("u2pp_conformer_dense_225m.yaml"), 225e6, 22.5e6);
  EXPECT_NEAR(params("u2pp_conformer_moe_1b.yaml"), 1.0e9, 0.1e9);
}

TEST(Configs, MoeTwinsDifferOnlyInTheirFfns) {
  for (auto [dense, moe] : {std::pair<const char*, const char*>{"u2pp_conformer_dense_225m.yaml", "u2pp_conformer_moe_1b.yaml"},
                            {"wenet_aishell_u2pp_conformer.yaml", "wenet_aishell_u2pp_conformer_moe.yaml"}}) {
    const ModelConfig d = parse_model_config(read_file(config_path(dense)), dense, -1);
    const ModelConfig m = parse_model_config(read_file(config_path(moe)), moe, -1);
    EXPECT_FALSE(d.encoder.ffn.moe());
    EXPECT_TRUE(m.encoder.ffn.moe() && m.decoder.ffn.moe());
    EXPECT_EQ(m.encoder.ffn.num_experts, 8);
    EXPECT_EQ(m.encoder.ffn.top_k, 2);
    EXPECT_EQ(d.encoder.d_model, m.encoder.d_model);
    EXPECT_EQ(d.encoder.num_blocks, m.encoder.num_blocks);
    EXPECT_EQ(d.encoder.ffn.hidden, m.encoder.ffn.hidden);
    EXPECT_EQ(d.vocab_size, m.vocab_size);
  }
}

TEST(Configs, SmallConfigsDecodeWithRandomWeights) {
  for (const char* name : {"wenet_aishell_u2pp_conformer_moe.yaml", "tiny_moe_ln.yaml", "tiny_dense_bn.yaml"}) {
    auto model = AsrModel::from_model_dir(random_model_dir(read_file(config_path(name)), name, 7));
    const auto s = decoded(model, DecodeOptions{}.chunk_size);
    EXPECT_EQ(s->state(), Stream::State::kDone) << name;
    EXPECT_EQ(s->stats().encoder_frames, 23) << name;  // 1 s = 98 fbank frames -> 23 encoder frames
  }
}

// The encoder variants build from a config and decode with random weights;
// the encoder frames follow each input layer's subsampling.
TEST(Configs, EncoderVariantsDecodeWithRandomWeights) {
  const std::string base = read_file(config_path("tiny_moe_ln.yaml"));
  struct Case {
    const char* encoder;
    const char* input_layer;
    const char* pos_enc;
    int64_t frames;  // of 98 fbank frames
  } cases[] = {{"transformer", "conv2d6", "abs_pos", 15},   {"transformer", "conv2d8", "no_pos", 11},
               {"conformer", "linear", "no_pos", 98},       {"conformer", "conv2d", "abs_pos", 23},
               {"branchformer", "conv2d8", "abs_pos", 11},  {"e_branchformer", "linear", "no_pos", 98},
               {"e_branchformer", "conv2d6", "rel_pos", 15}};
  for (const Case& c : cases) {
    // A transformer takes none of the conformer-only keys, so its encoder_conf is written anew.
    std::string yaml = base;
    const size_t enc = yaml.find("\nencoder_conf:\n") + 1;
    size_t end = enc;
    do end = yaml.find('\n', end) + 1; while (end < yaml.size() && yaml[end] == ' ');
    yaml.replace(enc, end - enc,
                 std::string("encoder_conf:\n  output_size: 32\n  attention_heads: 4\n  linear_units: 64\n"
                             "  num_blocks: 2\n  use_dynamic_chunk: true\n  mlp_type: moe\n  n_expert: 4\n"
                             "  n_expert_activated: 2\n  input_layer: ") + c.input_layer +
                     "\n  pos_enc_layer_type: " + c.pos_enc + "\n");
    const size_t kind = yaml.find("\nencoder: conformer\n");
    ASSERT_NE(kind, std::string::npos);
    yaml.replace(kind, 20, std::string("\nencoder: ") + c.encoder + "\n");
    const std::string where = std::string(c.encoder) + "/" + c.input_layer + "/" + c.pos_enc;
    auto model = AsrModel::from_model_dir(random_model_dir(yaml, where, 7));
    for (int chunk : {-1, 4}) {
      const auto s = decoded(model, chunk);
      EXPECT_EQ(s->state(), Stream::State::kDone) << where;
      EXPECT_EQ(s->stats().encoder_frames, c.frames) << where << " chunk " << chunk;
    }
  }
  // The shipped transformer config parses as the recipe's TransformerEncoder.
  const ModelConfig t = parse_model_config(read_file(config_path("wenet_aishell_u2pp_transformer_moe.yaml")), "t", -1);
  EXPECT_EQ(t.encoder.type, EncoderType::kTransformer);
  EXPECT_EQ(t.encoder.pos_enc, PosEnc::kAbsPos);
  EXPECT_TRUE(t.encoder.ffn.moe());
  EXPECT_TRUE(t.warnings.empty()) << t.warnings.front();
}

// The shipped Branchformer configs (aishell's recipe shapes) parse as WeNet
// reads them and decode with random weights, full attention and chunked.
TEST(Configs, BranchformerConfigsDecodeWithRandomWeights) {
  for (const char* name : {"wenet_aishell_u2pp_branchformer.yaml", "wenet_aishell_e_branchformer_moe.yaml"}) {
    const std::string yaml = read_file(config_path(name));
    const ModelConfig c = parse_model_config(yaml, name, -1);
    EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
    EXPECT_TRUE(c.encoder.branchformer()) << name;
    auto model = AsrModel::from_model_dir(random_model_dir(yaml, name, 7));
    for (int chunk : {-1, 16}) {
      const auto s = decoded(model, chunk);
      EXPECT_EQ(s->state(), Stream::State::kDone) << name;
      EXPECT_EQ(s->stats().encoder_frames, 23) << name << " chunk " << chunk;
    }
  }
}

// The shipped Efficient Conformer config (aishell's v1_stream recipe shape)
// parses without warnings and decodes with random weights, full attention and
// chunked; a chunk that is not a multiple of its stride 2 is refused.
TEST(Configs, EfficientConformerConfigDecodesWithRandomWeights) {
  const char* name = "wenet_aishell_u2pp_efficonformer.yaml";
  const std::string yaml = read_file(config_path(name));
  const ModelConfig c = parse_model_config(yaml, name, -1);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_EQ(c.encoder.type, EncoderType::kEfficientConformer);
  EXPECT_TRUE(c.encoder.trained_for_chunks());
  auto model = AsrModel::from_model_dir(random_model_dir(yaml, name, 7));
  for (int chunk : {-1, 16, 4}) {
    const auto s = decoded(model, chunk);
    EXPECT_EQ(s->state(), Stream::State::kDone);
    EXPECT_EQ(s->stats().encoder_frames, 12) << "chunk " << chunk;  // 23 input layer frames, halved
  }
  DecodeOptions odd;
  odd.chunk_size = 5;
  std::string msg;
  EXPECT_EQ(test::status_of([&] { Stream s(model, odd); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("multiple of its total stride 2"), std::string::npos) << msg;
}

// The shipped Squeezeformer config (librispeech's u2++ recipe shape) parses
// as WeNet reads it and decodes with random weights, full attention and in
// chunks (even, odd and one frame: the reduced blocks' cache rule).
TEST(Configs, SqueezeformerConfigDecodesWithRandomWeights) {
  const char* name = "wenet_librispeech_u2pp_squeezeformer.yaml";
  const std::string yaml = read_file(config_path(name));
  const ModelConfig c = parse_model_config(yaml, name, -1);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_TRUE(c.encoder.squeezeformer());
  EXPECT_EQ(c.encoder.time_reduction, TimeReduction::kStream);
  auto model = AsrModel::from_model_dir(random_model_dir(yaml, name, 7));
  for (int chunk : {-1, 16, 3, 1}) {
    const auto s = decoded(model, chunk);
    EXPECT_EQ(s->state(), Stream::State::kDone) << chunk;
    EXPECT_EQ(s->stats().encoder_frames, 23) << "chunk " << chunk;
  }
}

TEST(RandomModel, SameSeedSameWeights) {
  const std::string yaml = read_file(config_path("tiny_moe_ln.yaml"));
  ModelDir a = random_model_dir(yaml, "a", 3), b = random_model_dir(yaml, "b", 3), c = random_model_dir(yaml, "c", 4);
  const Tensor ta = a.weights->get("ctc.ctc_lo.weight"), tb = b.weights->get("ctc.ctc_lo.weight"),
               tc = c.weights->get("ctc.ctc_lo.weight");
  EXPECT_EQ(0, std::memcmp(ta.raw(), tb.raw(), ta.nbytes()));
  EXPECT_NE(0, std::memcmp(ta.raw(), tc.raw(), ta.nbytes()));
}

}  // namespace
}  // namespace moeasr
