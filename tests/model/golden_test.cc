// The C++ model against the PyTorch reference (tools/moeasr_ref) on the
// committed fixtures (tests/data/golden, made by tools/make_fixtures.py).
// For every fixture model, utterance and decoding mode:
//  - features -> encoder output and CTC log-probs: max abs diff < 1e-4
//    (the reference's fbank is fed in, so only the model is compared);
//  - CTC prefix beam search: identical n-best token sequences, scores < 1e-3;
//  - attention rescoring: l2r/r2l/combined scores < 1e-3, the same best hypothesis.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::max_abs_diff;

constexpr double kModelTolerance = 1e-4;
constexpr double kScoreTolerance = 1e-3;

struct GoldenCase {
  std::string model, utt, mode;
};

std::ostream& operator<<(std::ostream& os, const GoldenCase& c) { return os << c.model << "/" << c.utt << "/" << c.mode; }

std::vector<GoldenCase> all_cases() {
  std::vector<GoldenCase> cases;
  const std::string root = test::data_path("golden");
  if (!std::filesystem::is_directory(root)) return cases;
  for (const auto& model_dir : std::filesystem::directory_iterator(root)) {
    if (!model_dir.is_directory()) continue;
    for (const auto& f : std::filesystem::directory_iterator(model_dir.path())) {
      if (f.path().extension() != ".json") continue;
      std::ifstream in(f.path());
      nlohmann::json j = nlohmann::json::parse(in);
      if (!j.contains("modes")) continue;  // e.g. mot_cross/batch.json (mot_batch_test.cc)
      for (auto it = j["modes"].begin(); it != j["modes"].end(); ++it) {
        cases.push_back({model_dir.path().filename().string(), f.path().stem().string(), it.key()});
      }
    }
  }
  std::sort(cases.begin(), cases.end(), [](const GoldenCase& a, const GoldenCase& b) {
    return std::tie(a.model, a.utt, a.mode) < std::tie(b.model, b.utt, b.mode);
  });
  return cases;
}

// "full" -> chunk -1; "chunk16_left-1" -> 16, -1.
void parse_mode(const std::string& mode, int* chunk, int* left) {
  if (mode == "full") {
    *chunk = -1;
    *left = -1;
    return;
  }
  ASSERT_EQ(mode.rfind("chunk", 0), 0u) << mode;
  const size_t sep = mode.find("_left");
  *chunk = std::stoi(mode.substr(5, sep - 5));
  *left = std::stoi(mode.substr(sep + 5));
}

std::shared_ptr<const AsrModel> model_for(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const AsrModel>> cache;
  auto& m = cache[name];
  if (!m) m = AsrModel::load(test::data_path("models/" + name));
  return m;
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST(GoldenFixtures, AllModelsArePresent) {
  std::set<std::string> models;
  for (const GoldenCase& c : all_cases()) models.insert(c.model);
  for (const char* m : {"moe_ln", "dense_bn", "moe_k1", "odd_dims", "tf_moe_c6", "cf_lin_nopos", "cf_c8_abs",
                        "bf_causal", "ebf_moe", "sqz_causal", "sqz_shift", "rnnt_lstm", "effconf_stream",
                        "effconf_c2"}) {
    EXPECT_TRUE(models.count(m)) << m;
  }
}

TEST_P(GoldenTest, MatchesReference) {
  const GoldenCase& c = GetParam();
  const std::string base = test::data_path("golden/" + c.model + "/" + c.utt);
  std::ifstream json_in(base + ".json");
  const nlohmann::json golden = nlohmann::json::parse(json_in);
  const nlohmann::json& mode = golden["modes"][c.mode];
  auto tensors = test::read_golden(base + ".safetensors");

  DecodeOptions opts;
  parse_mode(c.mode, &opts.chunk_size, &opts.num_left_chunks);
  opts.nbest = golden["beam_size"].get<int>();
  opts.ctc_weight = golden["ctc_weight"].get<float>();
  opts.reverse_weight = golden["reverse_weight"].get<float>();
  opts.rescoring = true;
  auto model = model_for(c.model);
  Stream stream(model, opts);
  stream.set_keep_debug_outputs(true);
  const test::GoldenTensor& fbank = tensors.at("fbank");
  stream.accept_features(fbank.data.data(), fbank.shape[0]);
  stream.input_finished();
  stream.decode();
  ASSERT_EQ(stream.state(), Stream::State::kDone);

  const test::GoldenTensor& enc = tensors.at("encoder_out." + c.mode);
  const test::GoldenTensor& ctc = tensors.at("ctc_logprobs." + c.mode);
  ASSERT_EQ(stream.encoder_output().size(), enc.data.size());
  ASSERT_EQ(stream.ctc_log_probs().size(), ctc.data.size());
  const double enc_err = max_abs_diff(stream.encoder_output(), enc.data);
  const double ctc_err = max_abs_diff(stream.ctc_log_probs(), ctc.data);
  EXPECT_LT(enc_err, kModelTolerance) << "encoder output";
  EXPECT_LT(ctc_err, kModelTolerance) << "ctc log-probs";
  RecordProperty("encoder_max_abs_err", std::to_string(enc_err));
  RecordProperty("ctc_max_abs_err", std::to_string(ctc_err));

  const RecognitionResult r = stream.final_result();
  const nlohmann::json& nbest = mode["nbest"];
  ASSERT_EQ(r.nbest.size(), nbest.size());
  // Our n-best keeps CTC order except that the rescored best moves to the front.
  std::vector<const Hypothesis*> by_ctc_order;
  for (const Hypothesis& h : r.nbest) by_ctc_order.push_back(&h);
  std::stable_sort(by_ctc_order.begin(), by_ctc_order.end(),
                   [](const Hypothesis* a, const Hypothesis* b) { return a->ctc_score > b->ctc_score; });
  for (size_t i = 0; i < nbest.size(); ++i) {
    const Hypothesis& h = *by_ctc_order[i];
    const nlohmann::json& g = nbest[i];
    EXPECT_EQ(h.tokens, g["tokens"].get<std::vector<int>>()) << "n-best " << i;
    EXPECT_NEAR(h.ctc_score, g["ctc_score"].get<double>(), kScoreTolerance) << "n-best " << i;
    EXPECT_NEAR(h.attention_score, g["rescore"].get<double>(), kScoreTolerance) << "n-best " << i;
    EXPECT_NEAR(h.score, g["final_score"].get<double>(), kScoreTolerance) << "n-best " << i;
    std::vector<int> times_ms;
    // An encoder frame is frame_shift * subsampling_rate: 40 ms for conv2d,
    // 60 / 80 / 10 ms for conv2d6 / conv2d8 / linear.
    for (int t : g["times"].get<std::vector<int>>()) {
      times_ms.push_back(static_cast<int>(std::lround(t * model->frame_ms())));
    }
    EXPECT_EQ(h.timestamps_ms, times_ms) << "n-best " << i;
  }
  EXPECT_EQ(r.tokens, mode["best_tokens"].get<std::vector<int>>());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string name = info.param.model + "_" + info.param.utt + "_" + info.param.mode;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenTest);

}  // namespace
}  // namespace moeasr
