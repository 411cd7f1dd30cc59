// moeasr_decode_batch: complete utterances decoded together; the only call in
// which (for a cross-example Mixture-of-Tokens model) one utterance's result
// depends on others.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api_test_util.h"
#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"
#include "test_util.h"

namespace {

struct Model {
  moeasr_model* m = nullptr;
  explicit Model(const std::string& name) {
    EXPECT_EQ(moeasr_model_load(moeasr::test::data_path("models/" + name).c_str(), nullptr, &m), MOEASR_OK)
        << moeasr_last_error();
  }
  ~Model() { moeasr_model_free(m); }
};

// Results of one call, freed at the end.
struct Results {
  explicit Results(size_t n) : r(n, nullptr) {}
  ~Results() {
    for (moeasr_result* x : r) moeasr_result_free(x);
  }
  std::vector<moeasr_result*> r;
};

std::vector<float> wav(const char* name) {
  return moeasr::read_wav(moeasr::test::data_path(std::string("audio/") + name)).samples;
}

// The golden batch's utterances as audio: fbank frames [b, e) of a 16 kHz
// utterance are exactly those of its samples [160 b, 160 (e - 1) + 400).
std::vector<std::vector<float>> golden_batch_audio(const nlohmann::json& golden) {
  std::vector<std::vector<float>> audio;
  for (const nlohmann::json& u : golden["utterances"]) {
    const std::vector<float> src = wav((u["source"].get<std::string>() + ".wav").c_str());
    const size_t begin = 160 * u["frames"][0].get<size_t>(), end = 160 * (u["frames"][1].get<size_t>() - 1) + 400;
    audio.emplace_back(src.begin() + begin, src.begin() + std::min(end, src.size()));
  }
  return audio;
}

std::vector<moeasr_audio> views(const std::vector<std::vector<float>>& audio) {
  std::vector<moeasr_audio> v;
  for (const auto& a : audio) v.push_back({a.data(), a.size(), 16000});
  return v;
}

TEST(DecodeBatch, CrossExampleModelGivesTheReferenceBatchResults) {
  std::ifstream in(moeasr::test::data_path("golden/mot_cross/batch.json"));
  const nlohmann::json golden = nlohmann::json::parse(in);
  Model model("mot_cross");
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_model_get_info(model.m, &info), MOEASR_OK);
  EXPECT_EQ(info.mot_group_size, 2);
  EXPECT_EQ(info.mot_cross_example, 1);
  EXPECT_EQ(info.num_experts, 4);
  EXPECT_EQ(info.experts_per_token, 0);

  const std::vector<std::vector<float>> audio = golden_batch_audio(golden);
  const std::vector<moeasr_audio> utts = views(audio);
  moeasr_batch_options o;
  ASSERT_EQ(moeasr_batch_default_options(&o), MOEASR_OK);
  o.nbest = golden["beam_size"].get<int>();
  o.ctc_weight = golden["ctc_weight"].get<float>();
  o.reverse_weight = golden["reverse_weight"].get<float>();
  Results results(utts.size());
  ASSERT_EQ(moeasr_decode_batch(model.m, utts.data(), utts.size(), &o, results.r.data()), MOEASR_OK)
      << moeasr_last_error();
  for (size_t i = 0; i < utts.size(); ++i) {
    ASSERT_NE(results.r[i], nullptr);
    EXPECT_EQ(results.r[i]->is_final, 1);
    const std::vector<int> tokens(results.r[i]->tokens, results.r[i]->tokens + results.r[i]->num_tokens);
    EXPECT_EQ(tokens, golden["utterances"][i]["best_tokens"].get<std::vector<int>>()) << i;
  }
}

// The public header's comments as one line of words (comment markers and
// line breaks removed), so a sentence can be looked up whatever its wrapping.
std::string header_prose() {
  std::ifstream in(moeasr::test::data_path("../../include/moeasr/moeasr.h"));
  EXPECT_TRUE(in.good());
  std::string prose, line;
  while (std::getline(in, line)) {
    std::string words;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line.compare(i, 2, "/*") == 0 || line.compare(i, 2, "*/") == 0) {
        ++i;
      } else if (line[i] == '*' && words.find_first_not_of(' ') == std::string::npos) {
        continue;  // a comment's leading " * "
      } else {
        words += line[i];
      }
    }
    std::istringstream ws(words);
    for (std::string w; ws >> w;) prose += w + " ";
  }
  return prose;
}

// The header documents that a stream is never influenced by another user's
// audio unless the application asks for it (and where it can ask).
TEST(DecodeBatch, TheHeaderStatesThatUsersDoNotInfluenceEachOther) {
  const std::string h = header_prose();
  for (const char* sentence :
       {"Streams are isolated: no computation mixes the streams that moeasr_decode_streams batches, so one user's "
        "audio cannot leak into another's result.",
        "which runs only in moeasr_decode_batch, over utterances the application passes together; streams refuse such "
        "a model.",
        "cannot stream: MOEASR_ERR_UNSUPPORTED (use moeasr_decode_batch).",
        "This is the only call in which one utterance can influence another's result, and only for a model trained "
        "that way"}) {
    EXPECT_NE(h.find(sentence), std::string::npos) << "include/moeasr/moeasr.h no longer says: " << sentence;
  }
}

TEST(DecodeBatch, StreamsRefuseAModelThatMixesUtterances) {
  Model model("mot_cross");
  moeasr_stream* s = nullptr;
  EXPECT_EQ(moeasr_stream_create(model.m, nullptr, &s), MOEASR_ERR_UNSUPPORTED);
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("encoder_conf.mot_grouping: cross_example"), std::string::npos)
      << moeasr_last_error();
  Model within("mot_seq");
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_model_get_info(within.m, &info), MOEASR_OK);
  EXPECT_EQ(info.mot_group_size, 4);
  EXPECT_EQ(info.mot_cross_example, 0);
  ASSERT_EQ(moeasr_stream_create(within.m, nullptr, &s), MOEASR_OK);
  moeasr_stream_free(s);
}

// For a model that never mixes utterances, a batch result is the
// full-attention stream's result.
TEST(DecodeBatch, OtherModelsGiveWhatAFullAttentionStreamGives) {
  Model model("moe_ln");
  const std::vector<std::vector<float>> audio{wav("hello.wav"), wav("numbers.wav")};
  const std::vector<moeasr_audio> utts = views(audio);
  Results results(2);
  ASSERT_EQ(moeasr_decode_batch(model.m, utts.data(), 2, nullptr, results.r.data()), MOEASR_OK) << moeasr_last_error();
  moeasr_stream_options so;
  moeasr_stream_default_options(&so);
  so.chunk_size = -1;
  for (size_t i = 0; i < 2; ++i) {
    const moeasr::test::Decoded alone = moeasr::test::decode_alone(model.m, so, audio[i], 4000);
    EXPECT_EQ(std::string(results.r[i]->text), alone.text);
    ASSERT_EQ(results.r[i]->num_nbest, alone.scores.size());
    for (size_t k = 0; k < alone.scores.size(); ++k) EXPECT_NEAR(results.r[i]->nbest[k].score, alone.scores[k], 1e-5);
  }
}

// moeasr_result_to_json gives a batch result the JSON a stream's result has:
// the same fields, equal to the C struct's.
TEST(DecodeBatch, ResultToJsonMatchesTheStructAndTheStreamsJson) {
  Model model("moe_ln");
  const std::vector<float> audio = wav("hello.wav");
  const moeasr_audio utt{audio.data(), audio.size(), 16000};
  Results results(1);
  ASSERT_EQ(moeasr_decode_batch(model.m, &utt, 1, nullptr, results.r.data()), MOEASR_OK) << moeasr_last_error();
  char* text = nullptr;
  ASSERT_EQ(moeasr_result_to_json(results.r[0], &text), MOEASR_OK) << moeasr_last_error();
  const nlohmann::json j = nlohmann::json::parse(text);
  moeasr_string_free(text);
  const moeasr_result& r = *results.r[0];
  EXPECT_EQ(j["text"], r.text);
  EXPECT_EQ(j["tokens"], std::vector<int32_t>(r.tokens, r.tokens + r.num_tokens));
  EXPECT_TRUE(j["is_final"].get<bool>());
  ASSERT_EQ(j["nbest"].size(), r.num_nbest);
  for (size_t k = 0; k < r.num_nbest; ++k) {
    EXPECT_EQ(j["nbest"][k]["text"], r.nbest[k].text);
    EXPECT_DOUBLE_EQ(j["nbest"][k]["score"].get<double>(), r.nbest[k].score);
    EXPECT_DOUBLE_EQ(j["nbest"][k]["attention_score"].get<double>(), r.nbest[k].attention_score);
  }
  ASSERT_EQ(j["words"].size(), r.num_words);
  // A full-attention stream's final JSON has the same keys.
  moeasr_stream_options so;
  moeasr_stream_default_options(&so);
  so.chunk_size = -1;
  moeasr_stream* stream = nullptr;
  ASSERT_EQ(moeasr_stream_create(model.m, &so, &stream), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_accept_waveform(stream, audio.data(), audio.size(), 16000), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_input_finished(stream), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_decode(stream), MOEASR_OK);
  char* stream_text = nullptr;
  ASSERT_EQ(moeasr_stream_get_final_result_json(stream, &stream_text), MOEASR_OK);
  const nlohmann::json s = nlohmann::json::parse(stream_text);
  moeasr_string_free(stream_text);
  moeasr_stream_free(stream);
  for (const auto& [key, value] : s.items()) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(s["text"], j["text"]);
  // Bad arguments.
  char* out = reinterpret_cast<char*>(1);
  EXPECT_EQ(moeasr_result_to_json(nullptr, &out), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(moeasr_result_to_json(results.r[0], nullptr), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST(DecodeBatch, BadInputIsRefusedAndLeavesNoResults) {
  Model model("mot_cross");
  std::vector<float> ok(8000, 0.01f), nan_audio(8000, 0.01f);
  nan_audio[100] = NAN;
  Results results(3);
  auto expect = [&](moeasr_status want, std::vector<moeasr_audio> utts, const char* text) {
    results.r.assign(3, reinterpret_cast<moeasr_result*>(&ok));  // garbage the call must clear
    EXPECT_EQ(moeasr_decode_batch(model.m, utts.data(), utts.size(), nullptr, results.r.data()), want) << text;
    for (size_t i = 0; i < utts.size(); ++i) EXPECT_EQ(results.r[i], nullptr) << text;
    EXPECT_NE(std::string(moeasr_last_error()).find(text), std::string::npos) << moeasr_last_error();
    results.r.assign(3, nullptr);
  };
  expect(MOEASR_ERR_INVALID_ARGUMENT, {{ok.data(), ok.size(), 16000}, {nullptr, 10, 16000}},
         "utterance 1: samples is NULL");
  expect(MOEASR_ERR_INVALID_ARGUMENT, {{ok.data(), ok.size(), 16000}, {ok.data(), ok.size(), 16000},
                                       {nan_audio.data(), nan_audio.size(), 16000}},
         "utterance 2: sample 100 is not a finite number");
  expect(MOEASR_ERR_INVALID_ARGUMENT, {{ok.data(), ok.size(), 0}}, "utterance 0: sample rate must be positive");
  moeasr_result* one = nullptr;
  moeasr_audio a{ok.data(), ok.size(), 16000};
  EXPECT_EQ(moeasr_decode_batch(nullptr, &a, 1, nullptr, &one), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_decode_batch(model.m, nullptr, 1, nullptr, &one), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_decode_batch(model.m, &a, 1, nullptr, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_decode_batch(model.m, nullptr, 0, nullptr, nullptr), MOEASR_OK);
  moeasr_batch_options o;
  moeasr_batch_default_options(&o);
  o.struct_size = sizeof(o) + 8;
  EXPECT_EQ(moeasr_decode_batch(model.m, &a, 1, &o, &one), MOEASR_ERR_INVALID_ARGUMENT);
  moeasr_batch_default_options(&o);
  o.nbest = 0;
  EXPECT_EQ(moeasr_decode_batch(model.m, &a, 1, &o, &one), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(one, nullptr);
  EXPECT_EQ(moeasr_batch_default_options(nullptr), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST(DecodeBatch, ShortAndEmptyUtterancesGetEmptyResults) {
  Model model("mot_cross");
  const std::vector<float> hello = wav("hello.wav");
  const std::vector<moeasr_audio> utts{{nullptr, 0, 16000}, {hello.data(), 500, 16000}, {hello.data(), hello.size(), 16000}};
  Results results(3);
  ASSERT_EQ(moeasr_decode_batch(model.m, utts.data(), utts.size(), nullptr, results.r.data()), MOEASR_OK)
      << moeasr_last_error();
  EXPECT_EQ(results.r[0]->num_tokens, 0u);
  EXPECT_EQ(results.r[1]->num_tokens, 0u);
  EXPECT_STREQ(results.r[0]->text, "");
  EXPECT_GT(results.r[2]->num_tokens, 0u);
}

}  // namespace
