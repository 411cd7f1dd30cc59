// Endpoint rules (decode/endpoint.h) on hand-made CTC posteriors, and through
// the C API on the shipped model: a sample followed by silence ends where the
// rules say, live audio keeps going until then, and a soak-style app that
// resets on endpoints keeps a bounded transcript.
#include "decode/endpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"
#include "test_util.h"

namespace moeasr {
namespace {

constexpr int kVocab = 3;
constexpr double kFrameS = 0.04;

// `n` frames whose blank posterior is `p_blank` (the rest on token 1).
std::vector<float> frames(int n, float p_blank) {
  std::vector<float> logp;
  for (int t = 0; t < n; ++t) {
    logp.push_back(std::log(p_blank));
    logp.push_back(std::log(1.f - p_blank));
    logp.push_back(-30.f);
  }
  return logp;
}

TEST(Endpoint, TrailingSilenceAfterTextNeedsTheWholeDuration) {
  EndpointOptions o;  // 1 s after text = 25 frames of 40 ms
  EndpointDetector d(o, /*blank=*/0, kFrameS);
  d.observe(frames(10, 0.1f).data(), 10, kVocab);  // speech
  d.observe(frames(24, 0.9f).data(), 24, kVocab);
  EXPECT_FALSE(d.detected(true));
  EXPECT_NEAR(d.trailing_silence_s(), 0.96, 1e-9);
  d.observe(frames(1, 0.9f).data(), 1, kVocab);
  EXPECT_TRUE(d.detected(true));
  // Without text, rule 1 wants 5 s.
  EXPECT_FALSE(d.detected(false));
  d.observe(frames(100, 0.9f).data(), 100, kVocab);
  EXPECT_TRUE(d.detected(false));
}

TEST(Endpoint, SpeechOrAnUncertainBlankRestartsTheSilence) {
  EndpointOptions o;
  EndpointDetector d(o, 0, kFrameS);
  d.observe(frames(24, 0.9f).data(), 24, kVocab);
  d.observe(frames(1, 0.79f).data(), 1, kVocab);  // below the 0.8 threshold: not silence
  d.observe(frames(24, 0.9f).data(), 24, kVocab);
  EXPECT_FALSE(d.detected(true));
  EXPECT_NEAR(d.trailing_silence_s(), 0.96, 1e-9);
}

TEST(Endpoint, MaxUtteranceLengthAndDisabledRules) {
  EndpointOptions o;
  o.max_utterance_s = 2.0f;  // 50 frames
  EndpointDetector d(o, 0, kFrameS);
  d.observe(frames(49, 0.1f).data(), 49, kVocab);
  EXPECT_FALSE(d.detected(true));
  d.observe(frames(1, 0.1f).data(), 1, kVocab);
  EXPECT_TRUE(d.detected(true));
  EXPECT_TRUE(d.detected(false));
  d.reset();
  EXPECT_FALSE(d.detected(true));
  EXPECT_EQ(d.utterance_s(), 0.0);

  EndpointOptions off;
  off.silence_after_text_s = off.silence_without_text_s = off.max_utterance_s = 0.f;
  EndpointDetector never(off, 0, kFrameS);
  never.observe(frames(1000, 0.99f).data(), 1000, kVocab);
  EXPECT_FALSE(never.detected(true));
  EXPECT_FALSE(never.detected(false));
}

TEST(Endpoint, BadOptionsNameTheField) {
  EndpointOptions o;
  o.silence_after_text_s = -1.f;
  try {
    validate(o);
    FAIL() << "a negative duration was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), MOEASR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("endpoint_silence_after_text_s"), std::string::npos) << e.what();
  }
  o = EndpointOptions();
  o.max_utterance_s = NAN;
  EXPECT_THROW(validate(o), Error);
  o = EndpointOptions();
  o.blank_threshold = 1.f;
  EXPECT_THROW(validate(o), Error);
}

using test::repo_path;

// Room-tone "silence": quiet white noise (about -55 dBFS), as a live
// microphone gives.
std::vector<float> quiet_noise(double seconds) {
  std::vector<float> out(static_cast<size_t>(seconds * 16000));
  uint32_t state = 12345;
  for (float& x : out) {
    state = state * 1664525u + 1013904223u;
    x = 0.003f * (static_cast<float>(state >> 8) / 8388608.f - 1.f);
  }
  return out;
}

struct ShippedModel {
  moeasr_model* m = nullptr;
  ShippedModel() {
    EXPECT_EQ(moeasr_model_load(repo_path("models/en_moe_small").c_str(), nullptr, &m), MOEASR_OK)
        << moeasr_last_error();
  }
  ~ShippedModel() { moeasr_model_free(m); }
};

// Feeds `audio` in 100 ms pieces, decoding after each; returns the seconds of
// audio fed when the first endpoint was reported, or -1.
double first_endpoint(moeasr_stream* s, const std::vector<float>& audio) {
  constexpr size_t kPiece = 1600;
  for (size_t pos = 0; pos < audio.size(); pos += kPiece) {
    const size_t n = std::min(kPiece, audio.size() - pos);
    EXPECT_EQ(moeasr_stream_accept_waveform(s, audio.data() + pos, n, 16000), MOEASR_OK);
    EXPECT_EQ(moeasr_stream_decode(s), MOEASR_OK);
    int32_t endpoint = -1;
    EXPECT_EQ(moeasr_stream_is_endpoint(s, &endpoint), MOEASR_OK);
    if (endpoint) return (pos + n) / 16000.0;
  }
  return -1;
}

TEST(EndpointApi, SampleThenSilenceEndsAboutOneSecondIntoTheSilence) {
  ShippedModel model;
  ASSERT_NE(model.m, nullptr);
  std::vector<float> audio = read_wav(repo_path("samples/command.wav")).samples;
  const double speech_s = audio.size() / 16000.0;
  const std::vector<float> silence = quiet_noise(3.0);
  audio.insert(audio.end(), silence.begin(), silence.end());
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  EXPECT_FLOAT_EQ(o.endpoint_silence_after_text_s, 1.0f);
  moeasr_stream* s = nullptr;
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &s), MOEASR_OK);
  const double at = first_endpoint(s, audio);
  // The rule needs 1 s of blank frames after the last token; chunks of 16
  // frames (640 ms) and the encoder's right context delay when it is seen.
  EXPECT_GT(at, speech_s + 0.9) << "endpoint at " << at << " s, speech ends at " << speech_s << " s";
  EXPECT_LT(at, speech_s + 2.5) << "endpoint at " << at << " s, speech ends at " << speech_s << " s";
  // What an app does next: finish, take the text, reset, go on.
  ASSERT_EQ(moeasr_stream_input_finished(s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_decode(s), MOEASR_OK);
  moeasr_result* r = nullptr;
  ASSERT_EQ(moeasr_stream_get_final_result(s, &r), MOEASR_OK);
  EXPECT_STREQ(r->text, "navigate to the hospital");
  moeasr_result_free(r);
  ASSERT_EQ(moeasr_stream_reset(s), MOEASR_OK);
  int32_t endpoint = -1;
  ASSERT_EQ(moeasr_stream_is_endpoint(s, &endpoint), MOEASR_OK);
  EXPECT_EQ(endpoint, 0);
  moeasr_stream_free(s);
}

// Rule 1 on the model itself: non-speech alone (room tone, then digital
// silence) gives no text, and the stream ends once the 5 s of silence without
// text have been decoded. A model that invents text on noise (as the first
// shipped one did) fails both: its text is not empty, and rule 1 never fires.
TEST(EndpointApi, SilenceWithNoTextEndsAfterFiveSecondsWithNoText) {
  ShippedModel model;
  ASSERT_NE(model.m, nullptr);
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  EXPECT_FLOAT_EQ(o.endpoint_silence_without_text_s, 5.0f);
  const std::vector<std::vector<float>> inputs = {quiet_noise(8.0), std::vector<float>(8 * 16000, 0.f)};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string what = i == 0 ? "white noise at -55 dBFS" : "digital silence";
    moeasr_stream* s = nullptr;
    ASSERT_EQ(moeasr_stream_create(model.m, &o, &s), MOEASR_OK);
    const double at = first_endpoint(s, inputs[i]);
    // The encoder's right context and the 640 ms chunks delay when 5 s are seen.
    EXPECT_GE(at, 5.0) << what;
    EXPECT_LT(at, 6.5) << what;
    moeasr_result* r = nullptr;
    ASSERT_EQ(moeasr_stream_get_partial_result(s, &r), MOEASR_OK);
    EXPECT_STREQ(r->text, "") << what;
    moeasr_result_free(r);
    ASSERT_EQ(moeasr_stream_input_finished(s), MOEASR_OK);
    ASSERT_EQ(moeasr_stream_decode(s), MOEASR_OK);
    ASSERT_EQ(moeasr_stream_get_final_result(s, &r), MOEASR_OK);
    EXPECT_STREQ(r->text, "") << what;
    moeasr_result_free(r);
    moeasr_stream_free(s);
  }
}

TEST(EndpointApi, MaxUtteranceRuleAndAllRulesOff) {
  ShippedModel model;
  ASSERT_NE(model.m, nullptr);
  const std::vector<float> noise = quiet_noise(6.0);
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  o.endpoint_max_utterance_s = 2.0f;
  moeasr_stream* s = nullptr;
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &s), MOEASR_OK);
  const double at = first_endpoint(s, noise);
  EXPECT_GE(at, 2.0);
  EXPECT_LT(at, 3.0);  // decoded in 640 ms chunks
  moeasr_stream_free(s);

  o.endpoint_silence_after_text_s = o.endpoint_silence_without_text_s = o.endpoint_max_utterance_s = 0.f;
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &s), MOEASR_OK);
  EXPECT_EQ(first_endpoint(s, noise), -1);
  moeasr_stream_free(s);
}

TEST(EndpointApi, BadOptionsAndOldStructSizes) {
  ShippedModel model;
  ASSERT_NE(model.m, nullptr);
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  o.endpoint_max_utterance_s = -3.f;
  moeasr_stream* s = nullptr;
  EXPECT_EQ(moeasr_stream_create(model.m, &o, &s), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("endpoint_max_utterance_s"), std::string::npos)
      << moeasr_last_error();
  // A 0.1 caller's struct ends before the endpoint fields: they get defaults.
  o.struct_size = offsetof(moeasr_stream_options, timestamps) + sizeof(int32_t);
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &s), MOEASR_OK) << moeasr_last_error();
  EXPECT_EQ(moeasr_stream_is_endpoint(s, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  moeasr_stream_free(s);
  int32_t endpoint = 0;
  EXPECT_NE(moeasr_stream_is_endpoint(nullptr, &endpoint), MOEASR_OK);
}

}  // namespace
}  // namespace moeasr
