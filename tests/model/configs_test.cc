// The shipped configs: they parse, the paper-shaped ones have the parameter
// counts the benchmark issue asks for, and the small ones build and decode
// with random weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/mapped_file.h"
#include "formats/random_model.h"
#include "formats/weight_spec.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

std::string config_path(const std::string& name) { return test::data_path("../../configs/" + name); }

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
    Stream s(model, DecodeOptions{});
    std::vector<float> audio(16000);
    for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.3f * std::sin(0.05f * i) * std::sin(0.0007f * i);
    s.accept_waveform(audio.data(), audio.size(), 16000);
    s.input_finished();
    s.decode();
    EXPECT_EQ(s.state(), Stream::State::kDone) << name;
    EXPECT_EQ(s.stats().encoder_frames, 23) << name;  // 1 s = 98 fbank frames -> 23 encoder frames
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
