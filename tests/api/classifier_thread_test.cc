// One classifier shared by threads (run under the tsan preset too): every
// thread's results equal the single-threaded ones exactly.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"
#include "test_util.h"

namespace {

std::vector<float> scores_of(const moeasr_classifier* c, const std::vector<float>& audio, size_t n) {
  moeasr_classification* r = nullptr;
  if (moeasr_classify(c, audio.data(), n, 16000, 1000, &r) != MOEASR_OK) return {};
  std::vector<float> out(r->num_labels);
  for (size_t i = 0; i < r->num_labels; ++i) out[r->labels[i].index] = r->labels[i].score;
  moeasr_classification_free(r);
  return out;
}

TEST(ClassifierThreads, SharedClassifierGivesEveryThreadTheSameResults) {
  moeasr_classifier* c = nullptr;
  ASSERT_EQ(moeasr_classifier_load(moeasr::test::data_path("ast/soft_moa").c_str(), nullptr, &c), MOEASR_OK);
  const std::vector<float> audio = moeasr::read_wav(moeasr::test::data_path("audio/hello.wav")).samples;
  // Different clip lengths per call, so the threads do not all compute the same thing.
  const size_t lengths[] = {audio.size(), audio.size() / 2, 8000};
  std::vector<std::vector<float>> expected;
  for (size_t n : lengths) expected.push_back(scores_of(c, audio, n));
  constexpr int kThreads = 4, kCalls = 6;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const int which = (t + i) % 3;
        if (scores_of(c, audio, lengths[which]) != expected[which]) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  moeasr_classifier_free(c);
}

}  // namespace
