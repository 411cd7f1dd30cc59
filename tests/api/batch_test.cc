// moeasr_decode_streams: one batched encoder step for many streams, with the
// same results as decoding each stream alone.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "api/api_test_util.h"
#include "frontend/wav_reader.h"
#include "test_util.h"

namespace {

using moeasr::test::Decoded;

struct Job {
  std::vector<float> audio;
  moeasr_stream_options opts;
};

// Varied lengths (different crops of the two fixtures) and decode options.
std::vector<Job> make_jobs(int n) {
  const std::vector<float> a = moeasr::read_wav(moeasr::test::data_path("audio/hello.wav")).samples;
  const std::vector<float> b = moeasr::read_wav(moeasr::test::data_path("audio/numbers.wav")).samples;
  const int chunks[] = {16, 4, 8, 1, -1};
  std::vector<Job> jobs;
  for (int i = 0; i < n; ++i) {
    const std::vector<float>& src = i % 2 ? b : a;
    const size_t begin = static_cast<size_t>(i * 1237) % 8000;
    const size_t end = src.size() - static_cast<size_t>(i * 611) % 6000;
    Job j;
    j.audio.assign(src.begin() + begin, src.begin() + end);
    moeasr_stream_default_options(&j.opts);
    j.opts.chunk_size = chunks[i % 5];
    j.opts.num_left_chunks = i % 3 == 0 ? 2 : -1;
    j.opts.reverse_weight = i % 4 == 0 ? 0.3f : 0.f;
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// The same transcript as decoded alone. Scores are not compared here: batching
// changes GEMM row counts and so rounding, and where two paths of a beam are
// that close (these random-weight models have many), an n-best score moves
// by more than rounding (see the header's Conventions).
// DecodeStreams.EveryStreamsLogProbsEqualDecodingItAlone checks the numbers.
void expect_same(const Decoded& alone, const Decoded& batched, int i) {
  EXPECT_EQ(alone.text, batched.text) << "stream " << i;
  EXPECT_EQ(alone.scores.size(), batched.scores.size()) << "stream " << i;
}

class DecodeStreamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/moe_ln").c_str(), nullptr, &model), MOEASR_OK);
  }
  void TearDown() override { moeasr_model_free(model); }
  moeasr_model* model = nullptr;
};

// Streams of `model` batched through moeasr_decode_streams give what each
// gives decoded alone.
void expect_batched_equals_alone(moeasr_model* model) {
  const std::vector<Job> jobs = make_jobs(10);
  std::vector<Decoded> alone;
  for (const Job& j : jobs) alone.push_back(moeasr::test::decode_alone(model, j.opts, j.audio, 1600));

  std::vector<moeasr_stream*> streams(jobs.size(), nullptr);
  for (size_t i = 0; i < jobs.size(); ++i) ASSERT_EQ(moeasr_stream_create(model, &jobs[i].opts, &streams[i]), MOEASR_OK);
  // 100 ms pieces to every stream, one batched call per round; streams finish at different times.
  const size_t piece = 1600;
  for (size_t pos = 0;; pos += piece) {
    bool any = false;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const std::vector<float>& a = jobs[i].audio;
      if (pos < a.size()) {
        ASSERT_EQ(moeasr_stream_accept_waveform(streams[i], a.data() + pos, std::min(piece, a.size() - pos), 16000),
                  MOEASR_OK);
        any = true;
      } else if (pos < a.size() + piece) {
        ASSERT_EQ(moeasr_stream_input_finished(streams[i]), MOEASR_OK);
      }
    }
    ASSERT_EQ(moeasr_decode_streams(model, streams.data(), streams.size()), MOEASR_OK) << moeasr_last_error();
    if (!any) break;
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    int32_t done = 0;
    ASSERT_EQ(moeasr_stream_is_done(streams[i], &done), MOEASR_OK);
    ASSERT_EQ(done, 1) << i;
    expect_same(alone[i], moeasr::test::take_final(streams[i]), static_cast<int>(i));
    moeasr_stream_free(streams[i]);
  }
}

TEST_F(DecodeStreamsTest, BatchedResultsEqualDecodingAlone) { expect_batched_equals_alone(model); }

// The header's promise for a Mixture-of-Tokens model that streams (groups of
// G frames inside one stream's chunk, mot_grouping: within_sequence): batched
// with other users' streams, a stream's result is still its own.
TEST(DecodeStreamsMot, WithinChunkMixtureOfTokensStreamsAreNotInfluencedByOtherStreams) {
  moeasr_model* mot = nullptr;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/mot_seq").c_str(), nullptr, &mot), MOEASR_OK)
      << moeasr_last_error();
  const std::unique_ptr<moeasr_model, decltype(&moeasr_model_free)> owner(mot, &moeasr_model_free);
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_model_get_info(mot, &info), MOEASR_OK);
  ASSERT_GT(info.mot_group_size, 1);
  ASSERT_EQ(info.mot_cross_example, 0);
  expect_batched_equals_alone(mot);
}

TEST_F(DecodeStreamsTest, RejectsBadBatchesWithoutDecoding) {
  moeasr_stream* a = nullptr;
  moeasr_stream* b = nullptr;
  ASSERT_EQ(moeasr_stream_create(model, nullptr, &a), MOEASR_OK);
  moeasr_model* other = nullptr;
  ASSERT_EQ(moeasr_model_load(moeasr::test::data_path("models/moe_k1").c_str(), nullptr, &other), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_create(other, nullptr, &b), MOEASR_OK);
  std::vector<float> audio(16000, 0.01f);
  ASSERT_EQ(moeasr_stream_accept_waveform(a, audio.data(), audio.size(), 16000), MOEASR_OK);

  moeasr_stream* twice[] = {a, a};
  EXPECT_EQ(moeasr_decode_streams(model, twice, 2), MOEASR_ERR_INVALID_ARGUMENT);
  moeasr_stream* with_null[] = {a, nullptr};
  EXPECT_EQ(moeasr_decode_streams(model, with_null, 2), MOEASR_ERR_INVALID_ARGUMENT);
  moeasr_stream* foreign[] = {a, b};
  EXPECT_EQ(moeasr_decode_streams(model, foreign, 2), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_decode_streams(model, nullptr, 1), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_decode_streams(nullptr, twice, 1), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_decode_streams(model, nullptr, 0), MOEASR_OK);
  int32_t ready = 0;
  ASSERT_EQ(moeasr_stream_is_ready(a, &ready), MOEASR_OK);
  EXPECT_EQ(ready, 1);  // nothing was decoded
  moeasr_stream_free(a);
  moeasr_stream_free(b);
  moeasr_model_free(other);
}

}  // namespace
