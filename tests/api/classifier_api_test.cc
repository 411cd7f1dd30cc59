// The classifier through the C API: results equal the C++ classifier's (and
// so the reference's, tests/model/ast_test.cc), JSON and int16 variants, info
// and labels, and every misuse a status with a message, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"
#include "test_util.h"

namespace {

constexpr double kTolerance = 1e-4;

class CApiClassifier : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(moeasr_classifier_load(moeasr::test::data_path("ast/soft_moa").c_str(), nullptr, &c_), MOEASR_OK)
        << moeasr_last_error();
    audio_ = moeasr::read_wav(moeasr::test::data_path("audio/hello.wav")).samples;
    golden_ = moeasr::test::read_golden(moeasr::test::data_path("ast/soft_moa.golden.safetensors")).at("scores").data;
  }
  void TearDown() override { EXPECT_EQ(moeasr_classifier_free(c_), MOEASR_OK); }

  moeasr_classifier* c_ = nullptr;
  std::vector<float> audio_;
  std::vector<float> golden_;
};

TEST_F(CApiClassifier, ClassifyMatchesReference) {
  moeasr_classification* r = nullptr;
  ASSERT_EQ(moeasr_classify(c_, audio_.data(), audio_.size(), 16000, 4, &r), MOEASR_OK) << moeasr_last_error();
  ASSERT_EQ(r->num_labels, 4u);
  for (size_t i = 0; i < r->num_labels; ++i) {
    const moeasr_label_score& e = r->labels[i];
    EXPECT_NEAR(e.score, golden_[e.index], kTolerance);
    EXPECT_NEAR(e.score, 1.0 / (1.0 + std::exp(-e.logit)), 1e-6);  // sigmoid model
    const char* label = nullptr;
    ASSERT_EQ(moeasr_classifier_get_label(c_, e.index, &label), MOEASR_OK);
    EXPECT_STREQ(label, e.label);
    if (i) {
      EXPECT_GE(r->labels[i - 1].score, e.score);
    }
  }
  const float best = *std::max_element(golden_.begin(), golden_.end());
  EXPECT_NEAR(r->labels[0].score, best, kTolerance);
  EXPECT_EQ(moeasr_classification_free(r), MOEASR_OK);
}

TEST_F(CApiClassifier, Int16AndJsonGiveTheSame) {
  std::vector<int16_t> pcm(audio_.size());
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(std::lround(audio_[i] * 32768.f));
  moeasr_classification *a = nullptr, *b = nullptr;
  ASSERT_EQ(moeasr_classify(c_, audio_.data(), audio_.size(), 16000, 100, &a), MOEASR_OK);
  ASSERT_EQ(moeasr_classify_int16(c_, pcm.data(), pcm.size(), 16000, 100, &b), MOEASR_OK) << moeasr_last_error();
  ASSERT_EQ(a->num_labels, 11u);  // top_k beyond the label count: all of them
  ASSERT_EQ(b->num_labels, 11u);
  char* json = nullptr;
  ASSERT_EQ(moeasr_classify_json(c_, audio_.data(), audio_.size(), 16000, 100, &json), MOEASR_OK);
  const nlohmann::json j = nlohmann::json::parse(json);
  ASSERT_EQ(j["labels"].size(), 11u);
  for (size_t i = 0; i < 11; ++i) {
    EXPECT_EQ(a->labels[i].index, b->labels[i].index);
    EXPECT_EQ(a->labels[i].score, b->labels[i].score);  // WAV samples are int16 / 32768: bit-identical
    EXPECT_EQ(j["labels"][i]["index"].get<int>(), a->labels[i].index);
    EXPECT_EQ(j["labels"][i]["label"].get<std::string>(), a->labels[i].label);
    EXPECT_NEAR(j["labels"][i]["score"].get<double>(), a->labels[i].score, 1e-7);
  }
  moeasr_string_free(json);
  moeasr_classification_free(a);
  moeasr_classification_free(b);
}

TEST_F(CApiClassifier, Info) {
  moeasr_classifier_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_classifier_get_info(c_, &info), MOEASR_OK);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.num_labels, 11);
  EXPECT_EQ(info.multi_label, 1);
  EXPECT_EQ(info.max_frames, 100);
  EXPECT_EQ(info.hidden_size, 32);
  EXPECT_EQ(info.num_layers, 2);
  EXPECT_EQ(info.adapter_experts, 3);
  EXPECT_GT(info.num_parameters, 30000);
  // A shorter (older) struct is filled up to its size only.
  moeasr_classifier_info small;
  std::memset(&small, 0x7f, sizeof(small));
  small.struct_size = offsetof(moeasr_classifier_info, num_labels) + sizeof(int32_t);
  ASSERT_EQ(moeasr_classifier_get_info(c_, &small), MOEASR_OK);
  EXPECT_EQ(small.num_labels, 11);
  EXPECT_EQ(small.multi_label, 0x7f7f7f7f);
}

TEST_F(CApiClassifier, MisuseIsAStatusWithAMessage) {
  moeasr_classification* r = reinterpret_cast<moeasr_classification*>(0x1);
  auto expect = [](moeasr_status got, moeasr_status want, const char* text) {
    EXPECT_EQ(got, want) << text;
    EXPECT_NE(std::string(moeasr_last_error()).find(text), std::string::npos) << moeasr_last_error();
  };
  expect(moeasr_classify(nullptr, audio_.data(), audio_.size(), 16000, 1, &r), MOEASR_ERR_INVALID_ARGUMENT,
         "classifier is NULL");
  EXPECT_EQ(r, nullptr);  // out pointers are cleared on failure
  expect(moeasr_classify(c_, audio_.data(), audio_.size(), 16000, 1, nullptr), MOEASR_ERR_INVALID_ARGUMENT,
         "out_result is NULL");
  expect(moeasr_classify(c_, nullptr, 5, 16000, 1, &r), MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  expect(moeasr_classify(c_, audio_.data(), 0, 16000, 1, &r), MOEASR_ERR_INVALID_ARGUMENT, "shorter than one");
  expect(moeasr_classify(c_, audio_.data(), audio_.size(), 0, 1, &r), MOEASR_ERR_INVALID_ARGUMENT,
         "sample rate must be positive");
  expect(moeasr_classify(c_, audio_.data(), audio_.size(), 16000, 0, &r), MOEASR_ERR_INVALID_ARGUMENT, "top_k");
  expect(moeasr_classify(c_, audio_.data(), audio_.size(), 16000, -3, &r), MOEASR_ERR_INVALID_ARGUMENT, "top_k");
  std::vector<float> bad = audio_;
  bad[1000] = std::numeric_limits<float>::quiet_NaN();
  expect(moeasr_classify(c_, bad.data(), bad.size(), 16000, 1, &r), MOEASR_ERR_INVALID_ARGUMENT, "sample 1000");
  expect(moeasr_classify_int16(c_, nullptr, 3, 16000, 1, &r), MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  char* json = reinterpret_cast<char*>(0x1);
  expect(moeasr_classify_json(c_, bad.data(), bad.size(), 16000, 1, &json), MOEASR_ERR_INVALID_ARGUMENT,
         "sample 1000");
  EXPECT_EQ(json, nullptr);
  const char* label = "x";
  expect(moeasr_classifier_get_label(c_, 11, &label), MOEASR_ERR_INVALID_ARGUMENT, "label index 11");
  EXPECT_EQ(label, nullptr);
  expect(moeasr_classifier_get_label(c_, -1, &label), MOEASR_ERR_INVALID_ARGUMENT, "label index -1");
  expect(moeasr_classifier_get_info(c_, nullptr), MOEASR_ERR_INVALID_ARGUMENT, "info is NULL");
  // A wrong handle type is caught by its magic number.
  moeasr_model* model = nullptr;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/moe_ln").c_str(), nullptr, &model), MOEASR_OK);
  expect(moeasr_classify(reinterpret_cast<moeasr_classifier*>(model), audio_.data(), audio_.size(), 16000, 1, &r),
         MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_classifier");
  moeasr_model_free(model);
  // The classifier stays usable after every failure.
  ASSERT_EQ(moeasr_classify(c_, audio_.data(), audio_.size(), 16000, 1, &r), MOEASR_OK);
  moeasr_classification_free(r);
}

TEST(CApiClassifierLoad, FailuresAndOptions) {
  moeasr_classifier* c = reinterpret_cast<moeasr_classifier*>(0x1);
  EXPECT_EQ(moeasr_classifier_load("/nonexistent/ast", nullptr, &c), MOEASR_ERR_IO);
  EXPECT_EQ(c, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("moeasr_classifier_load: classifier directory"), std::string::npos)
      << moeasr_last_error();
  EXPECT_EQ(moeasr_classifier_load(nullptr, nullptr, &c), MOEASR_ERR_INVALID_ARGUMENT);
  const std::string dir = moeasr::test::data_path("ast/plain");
  EXPECT_EQ(moeasr_classifier_load(dir.c_str(), nullptr, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  // An ASR model directory is not a classifier directory.
  EXPECT_EQ(moeasr_classifier_load(moeasr::test::data_path("models/moe_ln").c_str(), nullptr, &c), MOEASR_ERR_IO);
  EXPECT_NE(std::string(moeasr_last_error()).find("classifier.yaml"), std::string::npos) << moeasr_last_error();
  moeasr_classifier_options o;
  ASSERT_EQ(moeasr_classifier_default_options(&o), MOEASR_OK);
  EXPECT_EQ(o.struct_size, sizeof(o));
  EXPECT_EQ(o.threads, 1);
  o.device = "cuda:0";
  EXPECT_EQ(moeasr_classifier_load(dir.c_str(), &o, &c), MOEASR_ERR_UNSUPPORTED);
  o.device = nullptr;  // NULL device: the default
  o.threads = 0;
  EXPECT_EQ(moeasr_classifier_load(dir.c_str(), &o, &c), MOEASR_ERR_INVALID_ARGUMENT);
  o.threads = 2;
  o.struct_size = sizeof(o) + 8;
  EXPECT_EQ(moeasr_classifier_load(dir.c_str(), &o, &c), MOEASR_ERR_INVALID_ARGUMENT);
  o.struct_size = sizeof(o);
  ASSERT_EQ(moeasr_classifier_load(dir.c_str(), &o, &c), MOEASR_OK) << moeasr_last_error();
  moeasr_classifier_free(c);
  EXPECT_EQ(moeasr_classifier_default_options(nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_classifier_free(nullptr), MOEASR_OK);
  EXPECT_EQ(moeasr_classification_free(nullptr), MOEASR_OK);
}

}  // namespace
