// The C API: handles, options, state machine, bad input and results.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"
#include "core/device.h"
#include "test_util.h"

namespace {

std::string model_dir() { return moeasr::test::data_path("models/moe_ln"); }

std::vector<float> wav(const char* name) {
  return moeasr::read_wav(moeasr::test::data_path(std::string("audio/") + name)).samples;
}

// RAII owners so a failing assertion never leaks.
struct Model {
  moeasr_model* m = nullptr;
  ~Model() { moeasr_model_free(m); }
};
struct StreamH {
  moeasr_stream* s = nullptr;
  ~StreamH() { moeasr_stream_free(s); }
};
struct Result {
  moeasr_result* r = nullptr;
  ~Result() { moeasr_result_free(r); }
};

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(moeasr_model_load(model_dir().c_str(), nullptr, &model.m), MOEASR_OK) << moeasr_last_error(); }

  // Feeds `samples` in pieces of `piece`, finishes and decodes; returns the final text.
  std::string decode(moeasr_stream* s, const std::vector<float>& samples, size_t piece, int rate = 16000) {
    for (size_t pos = 0; pos < samples.size(); pos += piece) {
      const size_t n = std::min(piece, samples.size() - pos);
      EXPECT_EQ(moeasr_stream_accept_waveform(s, samples.data() + pos, n, rate), MOEASR_OK) << moeasr_last_error();
      EXPECT_EQ(moeasr_stream_decode(s), MOEASR_OK) << moeasr_last_error();
    }
    EXPECT_EQ(moeasr_stream_input_finished(s), MOEASR_OK);
    EXPECT_EQ(moeasr_stream_decode(s), MOEASR_OK) << moeasr_last_error();
    Result r;
    EXPECT_EQ(moeasr_stream_get_final_result(s, &r.r), MOEASR_OK) << moeasr_last_error();
    return r.r ? r.r->text : "<none>";
  }

  Model model;
};

TEST(CApiStatus, NamesAndVersion) {
  EXPECT_STREQ(moeasr_status_string(MOEASR_ERR_STATE), "MOEASR_ERR_STATE");
  EXPECT_STREQ(moeasr_status_string(static_cast<moeasr_status>(99)), "MOEASR_ERR_UNKNOWN");
  EXPECT_STREQ(moeasr_status_string(static_cast<moeasr_status>(-1)), "MOEASR_ERR_UNKNOWN");
  // The library was built from this header: its version is the header's.
  const std::string header_version = std::to_string(MOEASR_VERSION_MAJOR) + "." +
                                     std::to_string(MOEASR_VERSION_MINOR) + "." + std::to_string(MOEASR_VERSION_PATCH);
  EXPECT_EQ(std::string(moeasr_version()), header_version);
}

TEST(CApiModel, LoadFailuresSetStatusMessageAndNullHandle) {
  moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
  EXPECT_EQ(moeasr_model_load("/nonexistent/dir", nullptr, &m), MOEASR_ERR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("/nonexistent/dir"), std::string::npos);
  EXPECT_EQ(moeasr_model_load(nullptr, nullptr, &m), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), nullptr, nullptr), MOEASR_ERR_INVALID_ARGUMENT);

  // A corrupt weight file.
  moeasr::test::TempDir dir;
  for (const char* f : {"train.yaml", "units.txt"}) moeasr::test::copy_file(model_dir() + "/" + f, dir.file(f));
  moeasr::test::write_file(dir.file("model.safetensors"), "garbage that is not safetensors");
  EXPECT_EQ(moeasr_model_load(dir.path().c_str(), nullptr, &m), MOEASR_ERR_FORMAT);
  EXPECT_EQ(m, nullptr);
}

TEST(CApiModel, OptionsAreValidated) {
  moeasr_model_options o;
  ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
  EXPECT_EQ(o.struct_size, sizeof(o));
  EXPECT_EQ(o.threads, 1);
  moeasr_model* m = nullptr;
  o.device = "cuda";
  // A CUDA build: a device error without a GPU, a model with one; else unsupported.
  if (!moeasr::have_cuda_backend()) {
    EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_UNSUPPORTED);
  } else if (moeasr::cuda_device_count() == 0) {
    EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_DEVICE);
  } else {
    EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_OK) << moeasr_last_error();
    moeasr_model_free(m);
    m = nullptr;
  }
  o.device = "tpu";
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_INVALID_ARGUMENT);
  o.device = "cpu";
  o.threads = 0;
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_INVALID_ARGUMENT);
  o.threads = 1;
  o.struct_size = 3;
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(moeasr_last_error()).find("struct_size"), std::string::npos);
  o.struct_size = sizeof(o) + 8;  // built against a newer header
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(m, nullptr);
  o.struct_size = sizeof(o);
  o.compute_type = "int4";
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(moeasr_last_error()).find("int4"), std::string::npos);
}

TEST(CApiModel, OlderOptionsStructsKeepNewDefaults) {
  // A program built against 0.1's header passes a struct that ends at `device`.
  moeasr_model_options o;
  moeasr_model_default_options(&o);
  o.compute_type = "garbage that must not be read";
  o.struct_size = offsetof(moeasr_model_options, device) + sizeof(const char*);
  moeasr_model* m = nullptr;
  ASSERT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_OK) << moeasr_last_error();
  moeasr_model_free(m);
  moeasr_model_default_options(&o);
  o.compute_type = "int8";
  ASSERT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_OK) << moeasr_last_error();
  moeasr_model_free(m);
}

TEST_F(CApiTest, ModelInfo) {
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_model_get_info(model.m, &info), MOEASR_OK);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.num_experts, 4);
  EXPECT_EQ(info.experts_per_token, 2);
  EXPECT_EQ(info.has_decoder, 1);
  EXPECT_GT(info.num_parameters, 100000);
  EXPECT_DOUBLE_EQ(info.frame_ms, 40.0);
  EXPECT_EQ(info.trained_for_chunks, 1);  // use_dynamic_chunk: true, causal: true
  EXPECT_EQ(info.default_chunk_size, 16);
  info.struct_size = 1;
  EXPECT_EQ(moeasr_model_get_info(model.m, &info), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_model_get_info(nullptr, &info), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST(CApiHandles, FreeNullIsANoOp) {
  EXPECT_EQ(moeasr_model_free(nullptr), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_free(nullptr), MOEASR_OK);
  EXPECT_EQ(moeasr_result_free(nullptr), MOEASR_OK);
  EXPECT_EQ(moeasr_string_free(nullptr), MOEASR_OK);
  EXPECT_EQ(moeasr_wave_free(nullptr), MOEASR_OK);
}

// The WAV reader an application can feed streams from: the samples the CLI
// decodes, channel choice and mixing, errors with status and message.
TEST(CApiWave, ReadsWhatTheCliReads) {
  const std::string hello = moeasr::test::data_path("audio/hello.wav");
  const std::string stereo = moeasr::test::data_path("audio/hello_stereo.wav");
  moeasr_wave* w = nullptr;
  ASSERT_EQ(moeasr_wave_read(hello.c_str(), -1, &w), MOEASR_OK) << moeasr_last_error();
  const moeasr::Waveform want = moeasr::read_wav(hello);
  EXPECT_EQ(w->sample_rate, 16000);
  EXPECT_EQ(w->truncated, 0);
  ASSERT_EQ(w->num_samples, want.samples.size());
  EXPECT_TRUE(std::equal(w->samples, w->samples + w->num_samples, want.samples.begin()));
  EXPECT_EQ(moeasr_wave_free(w), MOEASR_OK);

  EXPECT_EQ(moeasr_wave_read(stereo.c_str(), -1, &w), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(w, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("2 channels"), std::string::npos);
  moeasr_wave *left = nullptr, *right = nullptr, *mix = nullptr;
  ASSERT_EQ(moeasr_wave_read(stereo.c_str(), 0, &left), MOEASR_OK);
  ASSERT_EQ(moeasr_wave_read(stereo.c_str(), 1, &right), MOEASR_OK);
  ASSERT_EQ(moeasr_wave_read(stereo.c_str(), MOEASR_WAV_MIX, &mix), MOEASR_OK);
  ASSERT_EQ(mix->num_samples, left->num_samples);
  for (size_t i = 0; i < mix->num_samples; ++i) {
    ASSERT_FLOAT_EQ(mix->samples[i], (left->samples[i] + right->samples[i]) / 2) << i;
  }
  moeasr_wave_free(left);
  moeasr_wave_free(right);
  moeasr_wave_free(mix);
  EXPECT_EQ(moeasr_wave_read(stereo.c_str(), 2, &w), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_wave_read(stereo.c_str(), -3, &w), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_wave_read("/nonexistent.wav", -1, &w), MOEASR_ERR_IO);
  EXPECT_EQ(moeasr_wave_read(model_dir().c_str(), -1, &w), MOEASR_ERR_FORMAT);  // a directory
  EXPECT_EQ(moeasr_wave_read(nullptr, -1, &w), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_wave_read(hello.c_str(), -1, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST_F(CApiTest, NullHandlesAndPointers) {
  StreamH s;
  EXPECT_EQ(moeasr_stream_create(nullptr, nullptr, &s.s), MOEASR_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s.s), MOEASR_OK);
  float x = 0.f;
  int32_t flag = 0;
  moeasr_result* r = nullptr;
  char* json = nullptr;
  EXPECT_EQ(moeasr_stream_accept_waveform(nullptr, &x, 1, 16000), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_accept_waveform(s.s, nullptr, 5, 16000), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_accept_waveform(s.s, nullptr, 0, 16000), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_accept_waveform_int16(s.s, nullptr, 5, 16000), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_is_ready(s.s, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_is_ready(nullptr, &flag), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_decode(nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_input_finished(nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_reset(nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_get_partial_result(nullptr, &r), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(moeasr_stream_get_partial_result(s.s, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_get_final_result_json(s.s, nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_get_partial_result_json(nullptr, &json), MOEASR_ERR_INVALID_ARGUMENT);
  // A model handle is not a stream handle.
  EXPECT_EQ(moeasr_stream_decode(reinterpret_cast<moeasr_stream*>(model.m)), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST_F(CApiTest, StreamOptionsAreValidated) {
  moeasr_stream_options o;
  ASSERT_EQ(moeasr_stream_default_options(&o), MOEASR_OK);
  EXPECT_EQ(o.chunk_size, 16);
  EXPECT_EQ(o.nbest, 10);
  StreamH s;
  for (auto tweak : std::vector<void (*)(moeasr_stream_options&)>{
           [](moeasr_stream_options& x) { x.nbest = 0; }, [](moeasr_stream_options& x) { x.nbest = 1 << 30; },
           [](moeasr_stream_options& x) { x.chunk_size = 1 << 30; },
           [](moeasr_stream_options& x) { x.num_left_chunks = 1 << 30; },
           [](moeasr_stream_options& x) { x.reverse_weight = 2.f; },
           [](moeasr_stream_options& x) { x.ctc_weight = NAN; },
           [](moeasr_stream_options& x) { x.struct_size = 0; }}) {
    moeasr_stream_options bad = o;
    tweak(bad);
    EXPECT_EQ(moeasr_stream_create(model.m, &bad, &s.s), MOEASR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(s.s, nullptr);
  }
}

TEST_F(CApiTest, RejectsBadAudioAndStaysUsable) {
  const std::vector<float> audio = wav("hello.wav");
  StreamH clean, dirty;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &clean.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &dirty.s), MOEASR_OK);
  std::vector<float> poisoned(1000, 0.1f);
  poisoned[500] = NAN;
  EXPECT_EQ(moeasr_stream_accept_waveform(dirty.s, poisoned.data(), poisoned.size(), 16000),
            MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(moeasr_last_error()).find("NaN"), std::string::npos);
  poisoned[500] = INFINITY;
  EXPECT_EQ(moeasr_stream_accept_waveform(dirty.s, poisoned.data(), poisoned.size(), 16000),
            MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_accept_waveform(dirty.s, audio.data(), 10, 0), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_accept_waveform(dirty.s, audio.data(), 10, -8000), MOEASR_ERR_INVALID_ARGUMENT);
  // The rejected pieces left no trace.
  EXPECT_EQ(decode(dirty.s, audio, 1600), decode(clean.s, audio, 1600));
}

// Full attention over too long an input fails when the audio arrives, not
// after minutes of work, names the limit and the way out, and leaves the
// stream usable; chunked streams take any length.
TEST_F(CApiTest, FullAttentionRefusesInputPastItsLimit) {
  moeasr_stream_options o;
  ASSERT_EQ(moeasr_stream_default_options(&o), MOEASR_OK);
  o.chunk_size = -1;
  StreamH full, chunked;
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &full.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &chunked.s), MOEASR_OK);
  const int rate = 8000;
  const std::vector<float> minute(60 * rate, 0.f);
  for (int m = 0; m < 5; ++m) {
    ASSERT_EQ(moeasr_stream_accept_waveform(full.s, minute.data(), minute.size(), rate), MOEASR_OK) << m;
  }
  EXPECT_EQ(moeasr_stream_accept_waveform(full.s, minute.data(), 1, rate), MOEASR_ERR_UNSUPPORTED);
  const std::string msg = moeasr_last_error();
  EXPECT_NE(msg.find("at most 300 s"), std::string::npos) << msg;
  EXPECT_NE(msg.find("chunks"), std::string::npos) << msg;
  ASSERT_EQ(moeasr_stream_accept_waveform(chunked.s, minute.data(), 1, rate), MOEASR_OK);
  // The refused piece left no trace: the stream still finishes its 300 s.
  EXPECT_EQ(moeasr_stream_input_finished(full.s), MOEASR_OK);
  int32_t ready = 0;
  EXPECT_EQ(moeasr_stream_is_ready(full.s, &ready), MOEASR_OK);
  EXPECT_EQ(ready, 1);

  std::vector<float> long_audio(301 * rate, 0.f);
  moeasr_audio utterances[2] = {{minute.data(), 100, rate}, {long_audio.data(), long_audio.size(), rate}};
  moeasr_result* results[2] = {nullptr, nullptr};
  EXPECT_EQ(moeasr_decode_batch(model.m, utterances, 2, nullptr, results), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(moeasr_last_error()).find("utterance 1"), std::string::npos) << moeasr_last_error();
  EXPECT_EQ(results[0], nullptr);
}

TEST_F(CApiTest, StateMachine) {
  StreamH s;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s.s), MOEASR_OK);
  Result r;
  EXPECT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_ERR_STATE);
  EXPECT_EQ(r.r, nullptr);
  const std::vector<float> audio = wav("hello.wav");
  ASSERT_EQ(moeasr_stream_accept_waveform(s.s, audio.data(), audio.size(), 16000), MOEASR_OK);
  int32_t ready = 0, done = 1;
  ASSERT_EQ(moeasr_stream_is_ready(s.s, &ready), MOEASR_OK);
  EXPECT_EQ(ready, 1);
  ASSERT_EQ(moeasr_stream_input_finished(s.s), MOEASR_OK);
  float x = 0.f;
  EXPECT_EQ(moeasr_stream_accept_waveform(s.s, &x, 1, 16000), MOEASR_ERR_STATE);
  EXPECT_EQ(moeasr_stream_input_finished(s.s), MOEASR_ERR_STATE);
  ASSERT_EQ(moeasr_stream_is_done(s.s, &done), MOEASR_OK);
  EXPECT_EQ(done, 0);
  ASSERT_EQ(moeasr_stream_decode(s.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_is_done(s.s, &done), MOEASR_OK);
  EXPECT_EQ(done, 1);
  ASSERT_EQ(moeasr_stream_is_ready(s.s, &ready), MOEASR_OK);
  EXPECT_EQ(ready, 0);
  EXPECT_EQ(moeasr_stream_decode(s.s), MOEASR_OK);  // nothing left: a no-op
  ASSERT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_OK);
  EXPECT_EQ(r.r->is_final, 1);
  const std::string first = r.r->text;
  moeasr_result_free(r.r);  // the failing call below sets r.r to NULL
  r.r = nullptr;
  // reset: the same stream decodes the next utterance identically.
  ASSERT_EQ(moeasr_stream_reset(s.s), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_ERR_STATE);
  EXPECT_EQ(decode(s.s, audio, 4000), first);
}

// Times run on over resets (the stream's clock), unless the application sets
// the offset; words carry the same times; token ids map back to units.txt.
TEST_F(CApiTest, TimesRunOnOverResetsAndWordsCarryThem) {
  const std::vector<float> audio = wav("numbers.wav");
  StreamH s;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s.s), MOEASR_OK);
  auto final_times = [&](std::vector<moeasr_word>* words) {
    decode(s.s, audio, 3200);
    Result r;
    EXPECT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_OK);
    std::vector<int32_t> times(r.r->timestamps_ms, r.r->timestamps_ms + r.r->num_tokens);
    words->assign(r.r->words, r.r->words + r.r->num_words);
    std::string joined;
    for (size_t i = 0; i < r.r->num_words; ++i) joined += r.r->words[i].text;
    std::string text = r.r->text;
    text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
    EXPECT_EQ(joined, text);
    return times;
  };
  std::vector<moeasr_word> w1, w2, w3;
  const std::vector<int32_t> first = final_times(&w1);
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(w1.empty());
  EXPECT_EQ(w1[0].start_ms, first[0]);
  ASSERT_EQ(moeasr_stream_reset(s.s), MOEASR_OK);
  const std::vector<int32_t> second = final_times(&w2);
  const int32_t duration_ms = static_cast<int32_t>(std::llround(audio.size() * 1000.0 / 16000));
  ASSERT_EQ(second.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(second[i], first[i] + duration_ms) << i;
  ASSERT_EQ(w2.size(), w1.size());
  EXPECT_EQ(w2[0].end_ms, w1[0].end_ms + duration_ms);
  ASSERT_EQ(moeasr_stream_reset(s.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_set_time_offset(s.s, 0), MOEASR_OK);
  EXPECT_EQ(final_times(&w3), first);
  EXPECT_EQ(moeasr_stream_set_time_offset(s.s, -1), MOEASR_ERR_INVALID_ARGUMENT);

  const char* token = nullptr;
  ASSERT_EQ(moeasr_model_token(model.m, 2, &token), MOEASR_OK);
  EXPECT_STREQ(token, "a");
  EXPECT_EQ(moeasr_model_token(model.m, 40, &token), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(token, nullptr);
  EXPECT_EQ(moeasr_model_token(model.m, -1, &token), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST_F(CApiTest, ZeroLengthAudioGivesAnEmptyResult) {
  StreamH s;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s.s), MOEASR_OK);
  EXPECT_EQ(decode(s.s, {}, 1), "");
  Result r;
  ASSERT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_OK);
  EXPECT_EQ(r.r->num_tokens, 0u);
  // Too short for one encoder frame (< 7 fbank frames) is empty too.
  ASSERT_EQ(moeasr_stream_reset(s.s), MOEASR_OK);
  EXPECT_EQ(decode(s.s, std::vector<float>(800, 0.1f), 800), "");
}

TEST_F(CApiTest, PieceSizeDoesNotChangeTheResult) {
  const std::vector<float> audio = wav("numbers.wav");
  StreamH whole, single, odd;
  for (StreamH* s : {&whole, &single, &odd}) ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s->s), MOEASR_OK);
  const std::string expect = decode(whole.s, audio, audio.size());
  EXPECT_EQ(decode(odd.s, audio, 777), expect);
  // One sample at a time, decoding after each (slow path, but it must work).
  std::vector<float> shorter(audio.begin(), audio.begin() + std::min<size_t>(audio.size(), 16000));
  StreamH a, b;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &a.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &b.s), MOEASR_OK);
  EXPECT_EQ(decode(a.s, shorter, 1), decode(b.s, shorter, shorter.size()));
}

TEST_F(CApiTest, Int16AndResampledInput) {
  const std::vector<float> audio = wav("hello.wav");
  std::vector<int16_t> pcm(audio.size());
  for (size_t i = 0; i < audio.size(); ++i) pcm[i] = static_cast<int16_t>(std::lround(audio[i] * 32768.f));
  StreamH f, i16;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &f.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &i16.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_accept_waveform_int16(i16.s, pcm.data(), pcm.size(), 16000), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_input_finished(i16.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_decode(i16.s), MOEASR_OK);
  Result r;
  ASSERT_EQ(moeasr_stream_get_final_result(i16.s, &r.r), MOEASR_OK);
  EXPECT_EQ(r.r->text, decode(f.s, audio, audio.size()));

  // 8 kHz input is resampled; one rate per utterance.
  const std::vector<float> low = wav("hello_8k.wav");
  StreamH s8;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s8.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_accept_waveform(s8.s, low.data(), 800, 8000), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_accept_waveform(s8.s, low.data(), 800, 16000), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_accept_waveform(s8.s, low.data() + 800, low.size() - 800, 8000), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_input_finished(s8.s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_decode(s8.s), MOEASR_OK);
  Result r8;
  ASSERT_EQ(moeasr_stream_get_final_result(s8.s, &r8.r), MOEASR_OK);
}

TEST_F(CApiTest, ResultStructAndJsonAgree) {
  StreamH s;
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  o.reverse_weight = 0.3f;
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &s.s), MOEASR_OK);
  decode(s.s, wav("hello.wav"), 3200);
  Result r;
  char* json = nullptr;
  ASSERT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_get_final_result_json(s.s, &json), MOEASR_OK);
  const nlohmann::json j = nlohmann::json::parse(json);
  moeasr_string_free(json);
  EXPECT_EQ(j["text"], r.r->text);
  EXPECT_EQ(j["is_final"], true);
  ASSERT_EQ(j["nbest"].size(), r.r->num_nbest);
  ASSERT_GT(r.r->num_nbest, 1u);
  for (size_t i = 0; i < r.r->num_nbest; ++i) {
    const moeasr_hypothesis& h = r.r->nbest[i];
    EXPECT_EQ(j["nbest"][i]["text"], h.text);
    EXPECT_EQ(j["nbest"][i]["tokens"].size(), h.num_tokens);
    EXPECT_DOUBLE_EQ(j["nbest"][i]["score"].get<double>(), h.score);
    EXPECT_EQ(h.rescored, 1);
    EXPECT_NEAR(h.score, h.attention_score + 0.5 * h.ctc_score, 1e-9);
    if (i) {
      EXPECT_GE(r.r->nbest[0].score, h.score);
    }
    ASSERT_NE(h.timestamps_ms, nullptr);
    for (size_t t = 1; t < h.num_tokens; ++t) EXPECT_GE(h.timestamps_ms[t], h.timestamps_ms[t - 1]);
  }
  EXPECT_STREQ(r.r->text, r.r->nbest[0].text);
  // Partial results are the CTC best path, never rescored.
  Result p;
  ASSERT_EQ(moeasr_stream_get_partial_result(s.s, &p.r), MOEASR_OK);
  EXPECT_EQ(p.r->is_final, 0);
  EXPECT_EQ(p.r->nbest[0].rescored, 0);
}

TEST_F(CApiTest, TimestampsCanBeTurnedOff) {
  StreamH s;
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  o.timestamps = 0;
  o.rescoring = 0;
  ASSERT_EQ(moeasr_stream_create(model.m, &o, &s.s), MOEASR_OK);
  decode(s.s, wav("hello.wav"), 16000);
  Result r;
  ASSERT_EQ(moeasr_stream_get_final_result(s.s, &r.r), MOEASR_OK);
  ASSERT_GT(r.r->num_tokens, 0u);
  EXPECT_EQ(r.r->timestamps_ms, nullptr);
  EXPECT_EQ(r.r->nbest[0].rescored, 0);
}

TEST_F(CApiTest, StreamsOutliveTheModelHandle) {
  StreamH s;
  ASSERT_EQ(moeasr_stream_create(model.m, nullptr, &s.s), MOEASR_OK);
  moeasr_model_free(model.m);
  model.m = nullptr;
  EXPECT_NE(decode(s.s, wav("hello.wav"), 1600), "<none>");
}

TEST_F(CApiTest, LogCallbackReceivesMessages) {
  std::vector<std::string> messages;
  auto cb = [](moeasr_log_level, const char* message, void* user) {
    static_cast<std::vector<std::string>*>(user)->push_back(message);
  };
  ASSERT_EQ(moeasr_set_log_callback(cb, &messages, MOEASR_LOG_INFO), MOEASR_OK);
  moeasr_model* m = nullptr;
  ASSERT_EQ(moeasr_model_load(model_dir().c_str(), nullptr, &m), MOEASR_OK);
  moeasr_model_free(m);
  ASSERT_EQ(moeasr_set_log_callback(nullptr, nullptr, MOEASR_LOG_INFO), MOEASR_OK);
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages[0].find("MoE 4 experts top-2"), std::string::npos) << messages[0];
  const size_t before = messages.size();
  ASSERT_EQ(moeasr_model_load(model_dir().c_str(), nullptr, &m), MOEASR_OK);
  moeasr_model_free(m);
  EXPECT_EQ(messages.size(), before);  // silenced
  // C callers may pass any int for an enum (UBSan checks that it is read safely).
  EXPECT_EQ(moeasr_set_log_callback(cb, nullptr, static_cast<moeasr_log_level>(9)), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_set_log_callback(cb, nullptr, static_cast<moeasr_log_level>(-1)), MOEASR_ERR_INVALID_ARGUMENT);
}

// A model whose train.yaml says it was not trained for chunks (dense_bn: a
// non-causal convolution) decodes with full attention when the application
// does not choose; choosing chunks works and warns once per model.
TEST(CApiStreamingChecks, ModelNotTrainedForChunksDefaultsToFullAttention) {
  Model dense;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/dense_bn").c_str(), nullptr, &dense.m), MOEASR_OK);
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_model_get_info(dense.m, &info), MOEASR_OK);
  EXPECT_EQ(info.trained_for_chunks, 0);
  EXPECT_EQ(info.default_chunk_size, -1);

  std::vector<std::string> messages;
  auto cb = [](moeasr_log_level level, const char* message, void* user) {
    if (level == MOEASR_LOG_WARNING) static_cast<std::vector<std::string>*>(user)->push_back(message);
  };
  ASSERT_EQ(moeasr_set_log_callback(cb, &messages, MOEASR_LOG_WARNING), MOEASR_OK);
  auto final_json = [&](const moeasr_stream_options* o) {
    StreamH s;
    EXPECT_EQ(moeasr_stream_create(dense.m, o, &s.s), MOEASR_OK) << moeasr_last_error();
    const std::vector<float> audio = wav("hello.wav");
    EXPECT_EQ(moeasr_stream_accept_waveform(s.s, audio.data(), audio.size(), 16000), MOEASR_OK);
    EXPECT_EQ(moeasr_stream_input_finished(s.s), MOEASR_OK);
    EXPECT_EQ(moeasr_stream_decode(s.s), MOEASR_OK);
    char* json = nullptr;
    EXPECT_EQ(moeasr_stream_get_final_result_json(s.s, &json), MOEASR_OK);
    std::string out = json ? json : "";
    moeasr_string_free(json);
    return out;
  };
  moeasr_stream_options full, chunked;
  moeasr_stream_default_options(&full);
  moeasr_stream_default_options(&chunked);
  full.chunk_size = -1;
  const std::string by_default = final_json(nullptr);
  EXPECT_EQ(by_default, final_json(&full));
  EXPECT_TRUE(messages.empty());
  const std::string in_chunks = final_json(&chunked);
  final_json(&chunked);
  ASSERT_EQ(moeasr_set_log_callback(nullptr, nullptr, MOEASR_LOG_INFO), MOEASR_OK);
  EXPECT_NE(in_chunks, by_default);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("not trained for chunked decoding"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("not causal"), std::string::npos) << messages[0];
}

// Failure handling through the C API: every case returns a status and a
// message, leaves the out-handle NULL and leaks nothing (the asan preset runs
// this file under LeakSanitizer).
TEST(CApiFailures, DevicesThatCannotBeOpened) {
  moeasr_model_options o;
  ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
  struct Case {
    const char* device;
    std::vector<moeasr_status> allowed;
  };
  // CUDA devices: unsupported in a CPU-only build, a device error when the
  // device does not exist; anything else is not a device name at all.
  // ("cuda" itself opens on a machine with a GPU: see tests/model/device_model_test.cc.)
  const char* cuda0 = moeasr::cuda_device_count() == 0 ? "cuda" : "cuda:9999";
  const Case cases[] = {{cuda0, {MOEASR_ERR_UNSUPPORTED, MOEASR_ERR_DEVICE}},
                        {"cuda:99", {MOEASR_ERR_UNSUPPORTED, MOEASR_ERR_DEVICE}},
                        {"cuda:-1", {MOEASR_ERR_INVALID_ARGUMENT}},
                        {"cuda:abc", {MOEASR_ERR_INVALID_ARGUMENT}},
                        {"cpu:7", {MOEASR_ERR_INVALID_ARGUMENT, MOEASR_ERR_DEVICE}},
                        {"", {MOEASR_ERR_INVALID_ARGUMENT}},
                        {"\xff\xfe\x01garbage", {MOEASR_ERR_INVALID_ARGUMENT}},
                        {"CPU", {MOEASR_ERR_INVALID_ARGUMENT}}};
  for (const Case& c : cases) {
    o.device = c.device;
    moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
    const moeasr_status st = moeasr_model_load(model_dir().c_str(), &o, &m);
    EXPECT_NE(std::find(c.allowed.begin(), c.allowed.end(), st), c.allowed.end())
        << "device '" << c.device << "': " << moeasr_status_string(st);
    EXPECT_EQ(m, nullptr) << c.device;
    EXPECT_STRNE(moeasr_last_error(), "") << c.device;
  }
  o.device = nullptr;  // NULL means the default, "cpu"
  moeasr_model* m = nullptr;
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_OK) << moeasr_last_error();
  moeasr_model_free(m);
}

TEST(CApiFailures, TerabyteTensorAndBadUnitsAreRejectedAtLoad) {
  moeasr::test::TempDir dir;
  moeasr::test::copy_file(model_dir() + "/train.yaml", dir.file("train.yaml"));
  moeasr::test::copy_file(model_dir() + "/units.txt", dir.file("units.txt"));
  // A tensor the config expects, claiming 1 TiB of data in a tiny file: rejected
  // from the header alone (an attempt to allocate it would be an out-of-memory
  // status here, and an abort under the asan preset).
  moeasr::test::write_file(
      dir.file("model.safetensors"),
      moeasr::test::safetensors_from_header(
          R"({"ctc.ctc_lo.weight": {"dtype": "F32", "shape": [262144, 1048576], "data_offsets": [0, 1099511627776]}})",
          "xxxxxxxx"));
  moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
  EXPECT_EQ(moeasr_model_load(dir.path().c_str(), nullptr, &m), MOEASR_ERR_FORMAT);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("out of range"), std::string::npos) << moeasr_last_error();

  // Invalid UTF-8 in units.txt, with valid weights.
  moeasr::test::copy_file(model_dir() + "/model.safetensors", dir.file("model.safetensors"));
  std::string units = moeasr::read_file(model_dir() + "/units.txt");
  units.replace(units.find("a 2"), 1, "\xc3\x28");  // a broken two-byte sequence
  moeasr::test::write_file(dir.file("units.txt"), units);
  EXPECT_EQ(moeasr_model_load(dir.path().c_str(), nullptr, &m), MOEASR_ERR_FORMAT);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(moeasr_last_error()).find("UTF-8"), std::string::npos) << moeasr_last_error();
}

TEST_F(CApiTest, HugeAndExtremeOptionValues) {
  moeasr_stream_options o;
  ASSERT_EQ(moeasr_stream_default_options(&o), MOEASR_OK);
  const int32_t kMax = std::numeric_limits<int32_t>::max(), kMin = std::numeric_limits<int32_t>::min();
  auto rejected = [&](void (*tweak)(moeasr_stream_options&, int32_t, int32_t)) {
    moeasr_stream_options bad = o;
    tweak(bad, kMax, kMin);
    moeasr_stream* s = reinterpret_cast<moeasr_stream*>(0x1);
    const moeasr_status st = moeasr_stream_create(model.m, &bad, &s);
    EXPECT_EQ(s, nullptr);
    if (st != MOEASR_OK) {
      EXPECT_STRNE(moeasr_last_error(), "");
    }
    return st;
  };
  using O = moeasr_stream_options;
  EXPECT_EQ(rejected([](O& x, int32_t hi, int32_t) { x.nbest = hi; }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rejected([](O& x, int32_t, int32_t lo) { x.nbest = lo; }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rejected([](O& x, int32_t hi, int32_t) { x.chunk_size = hi; }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rejected([](O& x, int32_t hi, int32_t) { x.num_left_chunks = hi; }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rejected([](O& x, int32_t, int32_t) { x.ctc_weight = INFINITY; }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rejected([](O& x, int32_t, int32_t) { x.reverse_weight = NAN; }), MOEASR_ERR_INVALID_ARGUMENT);

  // The extreme values that are allowed decode normally: the largest beam and
  // chunk, unlimited history given as INT_MIN, full attention as INT_MIN.
  const std::vector<float> audio = wav("hello.wav");
  for (auto tweak : std::vector<void (*)(O&)>{[](O& x) { x.nbest = 1000; },
                                              [](O& x) { x.chunk_size = 4096; },
                                              [](O& x) { x.chunk_size = 4; x.num_left_chunks = 1 << 20; },
                                              [](O& x) { x.num_left_chunks = std::numeric_limits<int32_t>::min(); },
                                              [](O& x) { x.chunk_size = std::numeric_limits<int32_t>::min(); }}) {
    O ok = o;
    tweak(ok);
    StreamH s;
    ASSERT_EQ(moeasr_stream_create(model.m, &ok, &s.s), MOEASR_OK) << moeasr_last_error();
    EXPECT_NE(decode(s.s, audio, 8000), "<none>");
  }
}

}  // namespace
