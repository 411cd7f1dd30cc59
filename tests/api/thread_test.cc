// One model shared by threads. Run it under ThreadSanitizer with the tsan
// preset (see docs/testing.md).
//  - 256 streams driven by 2 threads (128 each) in batched steps whose
//    composition changes every step (staggered starts, different piece sizes,
//    now and then two half batches): every stream's result equals decoding it
//    alone on one thread (text equal, scores within 1e-5, relative beyond 1).
//  - Two threads hammering the same stream: each call either runs or returns
//    MOEASR_ERR_STATE, and the stream's result is still the sequential one.
//
// The inputs are the fixture utterances in the four decoding modes the
// fixture generator checked for near-ties (tools/fixtures/margins.py: router
// top-k gaps, beam and rescoring margins). A batch of a different size rounds
// the GEMMs differently (~1e-6), which is harmless except at a near-tie of a
// discrete decision; an MoE router tie within that rounding on some arbitrary
// crop of audio would pick another expert, so arbitrary crops are not a
// sound test of batching.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>
#include <tuple>

#include "api/api_test_util.h"
#include "frontend/wav_reader.h"
#include "test_util.h"

namespace {

constexpr int kThreads = 2;
constexpr int kStreamsPerThread = 128;

struct Job {
  int utterance;  // 0: hello, 1: numbers
  int mode;       // index into kModes
  moeasr_stream_options opts;
  int start_step;  // batched step at which the stream starts receiving audio
};

// (chunk_size, num_left_chunks) of the fixture modes (tools/moeasr_ref/decode.py).
constexpr int kModes[4][2] = {{-1, -1}, {16, -1}, {4, 2}, {1, -1}};

std::vector<Job> make_jobs(int total) {
  std::vector<Job> jobs(total);
  for (int i = 0; i < total; ++i) {
    Job& j = jobs[i];
    j.utterance = i % 2;
    j.mode = (i / 2) % 4;
    moeasr_stream_default_options(&j.opts);
    j.opts.chunk_size = kModes[j.mode][0];
    j.opts.num_left_chunks = kModes[j.mode][1];
    j.opts.rescoring = (i / 8) % 2;
    j.opts.reverse_weight = 0.3f;  // the fixture model's (moe_ln) checked setting
    j.opts.timestamps = (i / 16) % 2;
    j.start_step = (i * 7) % 5;
  }
  return jobs;
}

TEST(ThreadTest, TwoThreadsOf128StreamsMatchSequentialDecoding) {
  moeasr_model* model = nullptr;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/moe_ln").c_str(), nullptr, &model), MOEASR_OK);
  const std::vector<float> audio[2] = {moeasr::read_wav(moeasr::test::data_path("audio/hello.wav")).samples,
                                       moeasr::read_wav(moeasr::test::data_path("audio/numbers.wav")).samples};
  const int total = kThreads * kStreamsPerThread;
  const std::vector<Job> jobs = make_jobs(total);
  // A stream's result depends only on its audio and options: decode each
  // distinct combination alone once.
  std::map<std::tuple<int, int, int, int>, moeasr::test::Decoded> alone;
  auto key = [](const Job& j) { return std::make_tuple(j.utterance, j.mode, j.opts.rescoring, j.opts.timestamps); };
  for (const Job& j : jobs) {
    if (!alone.count(key(j))) alone[key(j)] = moeasr::test::decode_alone(model, j.opts, audio[j.utterance], 1600);
  }

  std::vector<moeasr::test::Decoded> got(total);
  std::vector<moeasr_status> failures(kThreads, MOEASR_OK);
  auto worker = [&](int t) {
    std::vector<moeasr_stream*> streams;
    for (int k = 0; k < kStreamsPerThread; ++k) {
      moeasr_stream* s = nullptr;
      if (moeasr_stream_create(model, &jobs[t * kStreamsPerThread + k].opts, &s) != MOEASR_OK) {
        failures[t] = MOEASR_ERR_INTERNAL;
      }
      streams.push_back(s);
    }
    // The threads feed different piece sizes: features do not depend on them.
    const size_t piece = t == 0 ? 1600 : 2720;
    for (int step = 0;; ++step) {
      bool any = false;
      for (int k = 0; k < kStreamsPerThread; ++k) {
        const Job& j = jobs[t * kStreamsPerThread + k];
        const std::vector<float>& x = audio[j.utterance];
        const size_t pos = step < j.start_step ? x.size() + piece : (step - j.start_step) * piece;
        if (step < j.start_step) {
          any = true;
        } else if (pos < x.size()) {
          moeasr_stream_accept_waveform(streams[k], x.data() + pos, std::min(piece, x.size() - pos), 16000);
          any = true;
        } else if (pos < x.size() + piece) {
          moeasr_stream_input_finished(streams[k]);
        }
      }
      moeasr_status st = MOEASR_OK;
      if (step % 4 == 3) {
        // Now and then, two half batches instead of one.
        const size_t half = streams.size() / 2;
        st = moeasr_decode_streams(model, streams.data(), half);
        if (st == MOEASR_OK) st = moeasr_decode_streams(model, streams.data() + half, streams.size() - half);
      } else {
        st = moeasr_decode_streams(model, streams.data(), streams.size());
      }
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
  // Scores within 1e-5, relative to the score's size for scores beyond 1 in
  // magnitude: a score sums log-probs over all frames, and a batch of another
  // size rounds the GEMMs differently (another kernel for another row count).
  double worst_abs = 0, worst_rel = 0;
  for (int i = 0; i < total; ++i) {
    const moeasr::test::Decoded& expected = alone[key(jobs[i])];
    EXPECT_EQ(got[i].text, expected.text) << "stream " << i;
    ASSERT_EQ(got[i].scores.size(), expected.scores.size()) << "stream " << i;
    for (size_t k = 0; k < got[i].scores.size(); ++k) {
      const double diff = std::fabs(got[i].scores[k] - expected.scores[k]);
      const double scale = std::max(1.0, std::fabs(expected.scores[k]));
      EXPECT_LE(diff, 1e-5 * scale) << "stream " << i << " hypothesis " << k << ": " << got[i].scores[k] << " vs "
                                    << expected.scores[k];
      worst_abs = std::max(worst_abs, diff);
      worst_rel = std::max(worst_rel, diff / scale);
    }
  }
  std::printf("256 streams: largest score difference %.3g (%.3g relative)\n", worst_abs, worst_rel);
  moeasr_model_free(model);
}

TEST(ThreadTest, SecondThreadOnAStreamGetsStateErrorAndChangesNothing) {
  moeasr_model* model = nullptr;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/moe_ln").c_str(), nullptr, &model), MOEASR_OK);
  const std::vector<float> audio = moeasr::read_wav(moeasr::test::data_path("audio/numbers.wav")).samples;
  moeasr_stream_options opts;
  moeasr_stream_default_options(&opts);
  opts.chunk_size = 4;  // a fixture mode (see the top of this file)
  opts.num_left_chunks = 2;
  opts.reverse_weight = 0.3f;
  const moeasr::test::Decoded expected = moeasr::test::decode_alone(model, opts, audio, 1600);

  moeasr_stream* s = nullptr;
  ASSERT_EQ(moeasr_stream_create(model, &opts, &s), MOEASR_OK);
  std::atomic<bool> stop{false};
  std::atomic<int> intruder_ok{0}, intruder_busy{0}, intruder_other{0};
  // Read-only calls from a second thread: each runs whole or is turned away.
  std::thread intruder([&] {
    while (!stop.load()) {
      moeasr_result* r = nullptr;
      int32_t ready = 0;
      const moeasr_status a = moeasr_stream_get_partial_result(s, &r);
      moeasr_result_free(r);
      const moeasr_status b = moeasr_stream_is_ready(s, &ready);
      for (moeasr_status st : {a, b}) {
        if (st == MOEASR_OK) intruder_ok++;
        else if (st == MOEASR_ERR_STATE) intruder_busy++;
        else intruder_other++;
      }
    }
  });
  // The owner retries a call the intruder turned away (the stream is unchanged).
  auto retry = [](auto&& call) {
    moeasr_status st;
    while ((st = call()) == MOEASR_ERR_STATE) std::this_thread::yield();
    return st;
  };
  for (size_t pos = 0; pos < audio.size(); pos += 1600) {
    const size_t n = std::min<size_t>(1600, audio.size() - pos);
    EXPECT_EQ(retry([&] { return moeasr_stream_accept_waveform(s, audio.data() + pos, n, 16000); }), MOEASR_OK);
    EXPECT_EQ(retry([&] { return moeasr_stream_decode(s); }), MOEASR_OK);
  }
  EXPECT_EQ(retry([&] { return moeasr_stream_input_finished(s); }), MOEASR_OK);
  EXPECT_EQ(retry([&] { return moeasr_stream_decode(s); }), MOEASR_OK);
  // On a loaded machine the intruder may not have been scheduled while the
  // owner worked; the stream is idle now, so its next calls must succeed.
  while (intruder_ok.load() == 0 && intruder_other.load() == 0) std::this_thread::yield();
  stop = true;
  intruder.join();
  EXPECT_EQ(intruder_other.load(), 0);
  EXPECT_GT(intruder_ok.load(), 0);
  const moeasr::test::Decoded got = moeasr::test::take_final(s);
  EXPECT_EQ(got.text, expected.text);
  ASSERT_EQ(got.scores.size(), expected.scores.size());
  for (size_t k = 0; k < got.scores.size(); ++k) EXPECT_NEAR(got.scores[k], expected.scores[k], 1e-5);
  EXPECT_EQ(moeasr_stream_free(s), MOEASR_OK);
  moeasr_model_free(model);
}

}  // namespace
