// One model, two threads, 64 streams each, batched steps: every stream's
// result equals decoding it alone on one thread. Run it under ThreadSanitizer
// with the tsan preset (see docs/testing.md).
#include <gtest/gtest.h>

#include <thread>

#include "api/api_test_util.h"
#include "frontend/wav_reader.h"
#include "test_util.h"

namespace {

constexpr int kThreads = 2;
constexpr int kStreamsPerThread = 64;

TEST(ThreadTest, TwoThreadsOf64StreamsMatchSequentialDecoding) {
  moeasr_model* model = nullptr;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/moe_ln").c_str(), nullptr, &model), MOEASR_OK);
  const std::vector<float> a = moeasr::read_wav(moeasr::test::data_path("audio/hello.wav")).samples;
  const std::vector<float> b = moeasr::read_wav(moeasr::test::data_path("audio/numbers.wav")).samples;
  const int total = kThreads * kStreamsPerThread;
  // Short, varied crops keep the test quick under sanitizers.
  std::vector<std::vector<float>> audio(total);
  std::vector<moeasr_stream_options> opts(total);
  for (int i = 0; i < total; ++i) {
    const std::vector<float>& src = i % 2 ? b : a;
    const size_t begin = static_cast<size_t>(i * 997) % 12000;
    audio[i].assign(src.begin() + begin, src.begin() + std::min(src.size(), begin + 12000 + (i % 7) * 1000));
    moeasr_stream_default_options(&opts[i]);
    opts[i].chunk_size = i % 3 == 0 ? 4 : 16;
  }
  std::vector<moeasr::test::Decoded> expected(total);
  for (int i = 0; i < total; ++i) expected[i] = moeasr::test::decode_alone(model, opts[i], audio[i], 1600);

  std::vector<moeasr::test::Decoded> got(total);
  std::vector<moeasr_status> failures(kThreads, MOEASR_OK);
  auto worker = [&](int t) {
    std::vector<moeasr_stream*> streams;
    for (int k = 0; k < kStreamsPerThread; ++k) {
      moeasr_stream* s = nullptr;
      const int i = t * kStreamsPerThread + k;
      if (moeasr_stream_create(model, &opts[i], &s) != MOEASR_OK) failures[t] = MOEASR_ERR_INTERNAL;
      streams.push_back(s);
    }
    const size_t piece = 1600;
    for (size_t pos = 0;; pos += piece) {
      bool any = false;
      for (int k = 0; k < kStreamsPerThread; ++k) {
        const std::vector<float>& x = audio[t * kStreamsPerThread + k];
        if (pos < x.size()) {
          moeasr_stream_accept_waveform(streams[k], x.data() + pos, std::min(piece, x.size() - pos), 16000);
          any = true;
        } else if (pos < x.size() + piece) {
          moeasr_stream_input_finished(streams[k]);
        }
      }
      const moeasr_status st = moeasr_decode_streams(model, streams.data(), streams.size());
      if (st != MOEASR_OK) failures[t] = st;
      if (!any) break;
    }
    for (int k = 0; k < kStreamsPerThread; ++k) {
      got[t * kStreamsPerThread + k] = moeasr::test::take_final(streams[k]);
      moeasr_stream_free(streams[k]);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (std::thread& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], MOEASR_OK) << "thread " << t;
  for (int i = 0; i < total; ++i) {
    EXPECT_EQ(got[i].text, expected[i].text) << "stream " << i;
    ASSERT_EQ(got[i].scores.size(), expected[i].scores.size()) << "stream " << i;
    for (size_t k = 0; k < got[i].scores.size(); ++k) EXPECT_NEAR(got[i].scores[k], expected[i].scores[k], 1e-5);
  }
  moeasr_model_free(model);
}

}  // namespace
