#include "frontend/fbank.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "frontend/wav_reader.h"
#include "test_util.h"

namespace moeasr {
namespace {

TEST(FbankTest, FrameCountFollowsSnipEdges) {
  Fbank f{FbankOptions{}};
  EXPECT_EQ(f.window_size(), 400);
  EXPECT_EQ(f.window_shift(), 160);
  EXPECT_EQ(f.num_frames(399), 0);
  EXPECT_EQ(f.num_frames(400), 1);
  EXPECT_EQ(f.num_frames(559), 1);
  EXPECT_EQ(f.num_frames(560), 2);
}

TEST(FbankTest, ConstantSignalIsFlooredAtEpsilon) {
  // DC removal leaves nothing: every bin is log(FLT_EPSILON), as in Kaldi.
  std::vector<float> dc(1000, 0.25f);
  std::vector<float> feats = compute_fbank(dc.data(), dc.size(), FbankOptions{});
  ASSERT_EQ(feats.size(), 80u * 4);
  for (float v : feats) EXPECT_FLOAT_EQ(v, std::log(FLT_EPSILON));
}

TEST(FbankTest, SinePeaksInTheRightMelBin) {
  std::vector<float> s(1600);
  for (size_t i = 0; i < s.size(); ++i) s[i] = 0.3f * std::sin(2 * M_PI * 1000.0 * i / 16000);
  std::vector<float> feats = compute_fbank(s.data(), s.size(), FbankOptions{});
  // Mel bin whose centre is nearest 1000 Hz.
  const double mel_low = 1127 * std::log(1 + 20 / 700.0), mel_high = 1127 * std::log(1 + 8000 / 700.0);
  const double target = 1127 * std::log(1 + 1000 / 700.0);
  int expect = static_cast<int>(std::lround((target - mel_low) / ((mel_high - mel_low) / 81) - 1));
  int best = 0;
  for (int m = 1; m < 80; ++m) {
    if (feats[m] > feats[best]) best = m;
  }
  EXPECT_NEAR(best, expect, 1);
}

TEST(FbankTest, MatchesTorchaudioKaldiFbankOnFixtures) {
  for (const char* utt : {"hello", "numbers"}) {
    Waveform w = read_wav(test::data_path(std::string("audio/") + utt + ".wav"));
    std::vector<float> feats = compute_fbank(w.samples.data(), w.samples.size(), FbankOptions{});
    auto golden = test::read_golden(test::data_path(std::string("golden/moe_ln/") + utt + ".safetensors"));
    const test::GoldenTensor& g = golden.at("fbank");
    ASSERT_EQ(g.shape.size(), 2u);
    ASSERT_EQ(g.shape[1], 80);
    ASSERT_EQ(static_cast<size_t>(g.shape[0] * 80), feats.size()) << utt;
    double max_err = 0;
    for (size_t i = 0; i < feats.size(); ++i) max_err = std::max(max_err, std::fabs(double(feats[i]) - g.data[i]));
    // Tolerance (issue A1): 1e-3 absolute on log-mel.
    EXPECT_LT(max_err, 1e-3) << utt;
    RecordProperty(std::string("max_abs_err_") + utt, std::to_string(max_err));
  }
}

TEST(FbankTest, RandomPiecesGiveIdenticalFeatures) {
  Waveform w = read_wav(test::data_path("audio/hello.wav"));
  std::vector<float> whole = compute_fbank(w.samples.data(), w.samples.size(), FbankOptions{});
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 3; ++trial) {
    Fbank f{FbankOptions{}};
    std::vector<float> pieces;
    std::uniform_int_distribution<size_t> len(1, trial == 0 ? 7 : 2000);
    size_t pos = 0;
    while (pos < w.samples.size()) {
      size_t n = std::min(len(rng), w.samples.size() - pos);
      f.accept_waveform(w.samples.data() + pos, n, &pieces);
      pos += n;
    }
    ASSERT_EQ(pieces, whole) << "trial " << trial;  // bit-identical
    EXPECT_EQ(f.frames_emitted() * 80, static_cast<long>(whole.size()));
  }
}

}  // namespace
}  // namespace moeasr
