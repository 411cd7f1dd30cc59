// Mixture-of-Tokens models in the runtime: the offline batch against the
// PyTorch reference (tests/data/golden/mot_cross/batch.*), what may and may
// not depend on other utterances, and the streaming rules. Streaming goldens
// of models/mot_seq and of the transition-tuned models/mot_cross_moe run in
// golden_test.cc like every other fixture model.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/asr_model.h"
#include "runtime/offline_batch.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::max_abs_diff;

using test::sci;

constexpr double kModelTolerance = 1e-4;
constexpr double kScoreTolerance = 1e-3;

std::shared_ptr<const AsrModel> model(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const AsrModel>> cache;
  auto& m = cache[name];
  if (!m) m = AsrModel::load(test::data_path("models/" + name));
  return m;
}

struct BatchGolden {
  nlohmann::json index;
  std::map<std::string, test::GoldenTensor> tensors;
  const test::GoldenTensor& fbank(size_t i) const { return tensors.at("fbank." + std::to_string(i)); }
};

const BatchGolden& batch_golden() {
  static const BatchGolden g = [] {
    BatchGolden b;
    std::ifstream in(test::data_path("golden/mot_cross/batch.json"));
    b.index = nlohmann::json::parse(in);
    b.tensors = test::read_golden(test::data_path("golden/mot_cross/batch.safetensors"));
    return b;
  }();
  return g;
}

DecodeOptions golden_options() {
  const nlohmann::json& j = batch_golden().index;
  DecodeOptions o;
  o.nbest = j["beam_size"].get<int>();
  o.ctc_weight = j["ctc_weight"].get<float>();
  o.reverse_weight = j["reverse_weight"].get<float>();
  return o;
}

// Complete utterances (the golden's fbank frames, or part of them), decoded
// together by decode_batch with their debug outputs kept.
struct Batch {
  std::vector<UtteranceFeatures> utterances;
  std::vector<std::unique_ptr<Recognition>> results;
  void add(const float* feats, int64_t frames) { utterances.push_back({feats, frames}); }
  void run(const std::string& model_name) {
    results = decode_batch(*model(model_name), utterances, golden_options(), /*keep_debug=*/true);
  }
  const Recognition& operator[](size_t i) const { return *results[i]; }
};

// The golden batch's utterances `which`, in that order, through decode_batch.
Batch run_golden_utterances(const std::string& model_name, const std::vector<size_t>& which) {
  Batch b;
  for (size_t i : which) {
    const test::GoldenTensor& f = batch_golden().fbank(i);
    b.add(f.data.data(), f.shape[0]);
  }
  b.run(model_name);
  return b;
}

std::vector<size_t> all_utterances() {
  std::vector<size_t> all(batch_golden().index["utterances"].size());
  std::iota(all.begin(), all.end(), 0);
  return all;
}

TEST(MotBatch, MatchesTheReferenceBatch) {
  const nlohmann::json& utts = batch_golden().index["utterances"];
  ASSERT_EQ(utts.size(), 5u);  // sets {0, 1}, {2, 3}, {4, absent} with G = 2
  ASSERT_EQ(batch_golden().index["group_size"].get<int>(), model("mot_cross")->config().encoder.ffn.group_size);
  const Batch b = run_golden_utterances("mot_cross", all_utterances());
  for (size_t i = 0; i < utts.size(); ++i) {
    const std::string n = std::to_string(i);
    const double enc_err = max_abs_diff(b[i].encoder_output(), batch_golden().tensors.at("encoder_out." + n).data);
    const double ctc_err = max_abs_diff(b[i].ctc_log_probs(), batch_golden().tensors.at("ctc_logprobs." + n).data);
    EXPECT_LT(enc_err, kModelTolerance) << "utterance " << i;
    EXPECT_LT(ctc_err, kModelTolerance) << "utterance " << i;
    RecordProperty("encoder_max_abs_err_" + n, sci(enc_err));
    RecordProperty("ctc_max_abs_err_" + n, sci(ctc_err));

    const RecognitionResult r = b[i].final_result();
    const nlohmann::json& nbest = utts[i]["nbest"];
    ASSERT_EQ(r.nbest.size(), nbest.size()) << i;
    std::vector<const Hypothesis*> by_ctc;
    for (const Hypothesis& h : r.nbest) by_ctc.push_back(&h);
    std::stable_sort(by_ctc.begin(), by_ctc.end(),
                     [](const Hypothesis* a, const Hypothesis* c) { return a->ctc_score > c->ctc_score; });
    for (size_t k = 0; k < nbest.size(); ++k) {
      EXPECT_EQ(by_ctc[k]->tokens, nbest[k]["tokens"].get<std::vector<int>>()) << i << "/" << k;
      EXPECT_NEAR(by_ctc[k]->ctc_score, nbest[k]["ctc_score"].get<double>(), kScoreTolerance) << i << "/" << k;
      EXPECT_NEAR(by_ctc[k]->score, nbest[k]["final_score"].get<double>(), kScoreTolerance) << i << "/" << k;
    }
    EXPECT_EQ(r.tokens, utts[i]["best_tokens"].get<std::vector<int>>()) << i;
  }
}

// The mixing is real: an utterance's output changes with its set's partner,
// and does not change with the utterances of other sets.
TEST(MotBatch, AnUtteranceDependsOnItsSetAndOnlyOnItsSet) {
  const Batch full = run_golden_utterances("mot_cross", {0, 1, 2, 3, 4});
  const Batch other_partner = run_golden_utterances("mot_cross", {0, 3, 2, 1, 4});  // sets {0,3} {2,1} {4}
  const Batch other_sets = run_golden_utterances("mot_cross", {0, 1, 4, 2, 3});     // set {0,1} unchanged
  EXPECT_GT(max_abs_diff(full[0].encoder_output(), other_partner[0].encoder_output()), 1e-3);
  EXPECT_LT(max_abs_diff(full[0].encoder_output(), other_sets[0].encoder_output()), 1e-5);
  EXPECT_LT(max_abs_diff(full[1].encoder_output(), other_sets[1].encoder_output()), 1e-5);
  // Utterance 4 is alone in its set (a masked, absent partner) in `full`; alone in the batch it is the same.
  const Batch alone = run_golden_utterances("mot_cross", {4});
  EXPECT_LT(max_abs_diff(full[4].encoder_output(), alone[0].encoder_output()), 1e-5);
}

// An utterance too short for an encoder frame holds its place (its set's
// other members see it as absent) and gets an empty result.
TEST(MotBatch, ATooShortUtteranceKeepsItsPlace) {
  const test::GoldenTensor& f0 = batch_golden().fbank(0);
  Batch with_short;
  with_short.add(f0.data.data(), 5);  // 5 frames: no output
  with_short.add(f0.data.data(), f0.shape[0]);
  with_short.run("mot_cross");
  const Batch alone = run_golden_utterances("mot_cross", {0});
  EXPECT_TRUE(with_short[0].final_result().tokens.empty());
  EXPECT_TRUE(with_short[0].encoder_output().empty());
  EXPECT_LT(max_abs_diff(with_short[1].encoder_output(), alone[0].encoder_output()), 1e-5);
}

// Without cross-example mixing the offline batch is just full attention, one
// utterance at a time: the same results as a full-attention stream alone.
TEST(MotBatch, WithoutCrossExampleMixingEachResultEqualsDecodingAlone) {
  for (const char* name : {"mot_seq", "moe_ln", "mot_cross_moe"}) {
    const std::vector<size_t> which{0, 1, 2, 3, 4};
    const Batch b = run_golden_utterances(name, which);
    for (size_t i = 0; i < which.size(); ++i) {
      DecodeOptions o = golden_options();
      o.chunk_size = -1;
      Stream s(model(name), o);
      s.set_keep_debug_outputs(true);
      const test::GoldenTensor& f = batch_golden().fbank(which[i]);
      s.accept_features(f.data.data(), f.shape[0]);
      s.input_finished();
      s.decode();
      EXPECT_LT(max_abs_diff(b[i].encoder_output(), s.encoder_output()), 1e-5) << name << " " << i;
      EXPECT_EQ(b[i].final_result().tokens, s.final_result().tokens) << name << " " << i;
    }
  }
}

// The batch takes feature arrays, not streams, so a stream cannot be decoded
// twice or half-finished there; what remains to refuse is a bad array, and a
// cross-example model on the streaming path.
TEST(MotBatch, RejectsMisuse) {
  std::string msg;
  EXPECT_EQ(test::status_of([&] { decode_batch(*model("mot_cross"), {{nullptr, 10}}, golden_options()); }, &msg),
            MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("utterance 0"), std::string::npos) << msg;
  EXPECT_TRUE(decode_batch(*model("mot_cross"), {}, golden_options()).empty());
  // The streaming path never mixes examples: a cross-example model cannot stream.
  EXPECT_EQ(test::status_of([&] { Stream s(model("mot_cross"), golden_options()); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("encoder_conf.mot_grouping: cross_example"), std::string::npos) << msg;
}

TEST(MotStreaming, CrossExampleModelsAreRefusedWithTheKeyNamed) {
  std::string msg;
  EXPECT_EQ(test::status_of([&] { Stream s(model("mot_cross"), DecodeOptions()); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("encoder_conf.mot_grouping: cross_example"), std::string::npos) << msg;
  EXPECT_NE(msg.find("moeasr_decode_batch"), std::string::npos) << msg;
  // Its transition-tuned MoE streams.
  EXPECT_EQ(test::status_of([&] { Stream s(model("mot_cross_moe"), DecodeOptions()); }), MOEASR_OK);
  EXPECT_TRUE(model("mot_cross_moe")->config().encoder.ffn.moe());
  EXPECT_EQ(model("mot_cross_moe")->config().encoder.ffn.top_k, 2);  // round(E / G) = 4 / 2
}

// Within-sequence MoT groups frames of one stream's chunk only, so a stream's
// result does not depend on the streams it is batched with.
TEST(MotStreaming, WithinChunkGroupsDoNotDependOnOtherStreams) {
  const std::vector<int> chunks{16, 4, 1, 3, -1, 8};
  std::vector<std::unique_ptr<Stream>> batched, alone;
  for (size_t i = 0; i < chunks.size(); ++i) {
    DecodeOptions o = golden_options();
    o.chunk_size = chunks[i];
    o.num_left_chunks = i % 2 ? 2 : -1;
    for (auto* list : {&batched, &alone}) {
      list->push_back(std::make_unique<Stream>(model("mot_seq"), o));
      list->back()->set_keep_debug_outputs(true);
    }
  }
  // Pieces of 40 fbank frames to every stream, one batched step per round.
  std::vector<Stream*> all;
  for (auto& s : batched) all.push_back(s.get());
  for (int64_t pos = 0;; pos += 40) {
    bool any = false;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const test::GoldenTensor& f = batch_golden().fbank(i % 5);
      const int64_t n = std::min<int64_t>(40, f.shape[0] - pos);
      if (n > 0) {
        batched[i]->accept_features(f.data.data() + pos * f.shape[1], n);
        any = true;
      } else if (n > -40) {
        batched[i]->input_finished();
      }
    }
    decode_streams(all);
    if (!any) break;
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    const test::GoldenTensor& f = batch_golden().fbank(i % 5);
    alone[i]->accept_features(f.data.data(), f.shape[0]);
    alone[i]->input_finished();
    alone[i]->decode();
    ASSERT_EQ(batched[i]->state(), Stream::State::kDone) << i;
    EXPECT_LT(max_abs_diff(batched[i]->encoder_output(), alone[i]->encoder_output()), 1e-5) << "stream " << i;
    EXPECT_EQ(batched[i]->final_result().tokens, alone[i]->final_result().tokens) << "stream " << i;
  }
}

}  // namespace
}  // namespace moeasr
