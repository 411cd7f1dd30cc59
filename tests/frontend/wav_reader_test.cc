#include "frontend/wav_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "frontend/wav_test_util.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::make_wav;
using test::status_of;

TEST(WavReaderTest, Pcm16) {
  Waveform w = parse_wav(make_wav(1, 1, 16000, 16, test::pcm16_payload({0, 16384, -32768, 32767})), "x.wav");
  EXPECT_EQ(w.sample_rate, 16000);
  ASSERT_EQ(w.samples.size(), 4u);
  EXPECT_FLOAT_EQ(w.samples[1], 0.5f);
  EXPECT_FLOAT_EQ(w.samples[2], -1.f);
}

TEST(WavReaderTest, OtherSampleFormats) {
  // 24-bit: -2^23 and 2^22.
  Waveform w24 = parse_wav(make_wav(1, 1, 8000, 24, std::string("\x00\x00\x80\x00\x00\x40", 6)), "x.wav");
  ASSERT_EQ(w24.samples.size(), 2u);
  EXPECT_FLOAT_EQ(w24.samples[0], -1.f);
  EXPECT_FLOAT_EQ(w24.samples[1], 0.5f);
  // 8-bit unsigned.
  Waveform w8 = parse_wav(make_wav(1, 1, 8000, 8, std::string("\x80\x00", 2)), "x.wav");
  EXPECT_FLOAT_EQ(w8.samples[0], 0.f);
  EXPECT_FLOAT_EQ(w8.samples[1], -1.f);
  // float32 through WAVE_FORMAT_EXTENSIBLE.
  float f[2] = {0.25f, -0.75f};
  Waveform wf = parse_wav(make_wav(3, 1, 22050, 32, std::string(reinterpret_cast<char*>(f), 8), true), "x.wav");
  EXPECT_EQ(wf.sample_rate, 22050);
  EXPECT_FLOAT_EQ(wf.samples[1], -0.75f);
  // float64.
  double d[1] = {0.125};
  Waveform wd = parse_wav(make_wav(3, 1, 16000, 64, std::string(reinterpret_cast<char*>(d), 8)), "x.wav");
  EXPECT_FLOAT_EQ(wd.samples[0], 0.125f);
}

TEST(WavReaderTest, MultiChannelNeedsAChoice) {
  std::string stereo = make_wav(1, 2, 16000, 16, test::pcm16_payload({100, 200, 300, 400}));
  std::string msg;
  EXPECT_EQ(status_of([&] { parse_wav(stereo, "s.wav"); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("2 channels"), std::string::npos) << msg;
  Waveform right = parse_wav(stereo, "s.wav", 1);
  ASSERT_EQ(right.samples.size(), 2u);
  EXPECT_FLOAT_EQ(right.samples[1], 400 / 32768.f);
  EXPECT_EQ(status_of([&] { parse_wav(stereo, "s.wav", 2); }), MOEASR_ERR_INVALID_ARGUMENT);
  Waveform mix = parse_wav(stereo, "s.wav", kWavDownmix);
  ASSERT_EQ(mix.samples.size(), 2u);
  EXPECT_FLOAT_EQ(mix.samples[0], 150 / 32768.f);
  EXPECT_FLOAT_EQ(mix.samples[1], 350 / 32768.f);
}

// A file cut short (a recorder killed mid-write, a partial download) decodes
// what is there, as sox does, and says so; a partial last frame is dropped.
TEST(WavReaderTest, TruncatedDataDecodesWhatIsThere) {
  const std::string good = make_wav(1, 1, 16000, 16, test::pcm16_payload({1, 2, 3, 4}));
  Waveform whole = parse_wav(good, "x.wav");
  EXPECT_FALSE(whole.truncated);
  Waveform cut = parse_wav(good.substr(0, good.size() - 3), "x.wav");
  EXPECT_TRUE(cut.truncated);
  ASSERT_EQ(cut.samples.size(), 2u);
  EXPECT_FLOAT_EQ(cut.samples[1], 2 / 32768.f);
}

// The streaming reader returns the same samples in pieces of any size and
// stops at the data chunk's end even when other chunks follow it.
TEST(WavReaderTest, PiecesEqualTheWholeFile) {
  std::vector<int16_t> pcm(1000);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(i * 37 - 9000);
  std::string wav = make_wav(1, 1, 8000, 16, test::pcm16_payload(pcm)) + "LIST" + std::string("\x04\0\0\0abcd", 8);
  const Waveform whole = parse_wav(wav, "x.wav");
  ASSERT_EQ(whole.samples.size(), pcm.size());
  for (size_t piece : {1, 7, 999, 4096}) {
    std::istringstream in(wav);
    WavReader r(in, "x.wav");
    EXPECT_EQ(r.declared_frames(), 1000);
    std::vector<float> got;
    while (r.read(got, piece) > 0) {
    }
    EXPECT_EQ(got, whole.samples) << piece;
    EXPECT_EQ(r.frames_read(), 1000);
    EXPECT_FALSE(r.truncated());
  }
}

TEST(WavReaderTest, CorruptFiles) {
  std::string good = make_wav(1, 1, 16000, 16, test::pcm16_payload({1, 2, 3, 4}));
  std::string msg;
  EXPECT_EQ(status_of([&] { parse_wav("hello", "x.wav"); }), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([&] { parse_wav(good.substr(0, 30), "x.wav"); }), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([&] { parse_wav(make_wav(1, 1, 16000, 12, "ab"), "x.wav"); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_EQ(status_of([&] { parse_wav(make_wav(2, 1, 16000, 16, "ab"), "x.wav"); }), MOEASR_ERR_UNSUPPORTED);
  EXPECT_EQ(status_of([&] { parse_wav(make_wav(1, 0, 16000, 16, "ab"), "x.wav"); }), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([&] { parse_wav(make_wav(1, 1, 0, 16, "ab"), "x.wav"); }), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([&] { read_wav("/nonexistent.wav"); }), MOEASR_ERR_IO);
}

TEST(WavReaderTest, StreamingSizePlaceholderReadsToEnd) {
  std::string wav = make_wav(1, 1, 16000, 16, test::pcm16_payload({5, 6, 7}));
  // data chunk size is at byte 40 for a 16-byte fmt chunk.
  std::memset(&wav[40], 0xFF, 4);
  EXPECT_EQ(parse_wav(wav, "x.wav").samples.size(), 3u);
}

TEST(WavReaderTest, FixtureFormatsAgree) {
  Waveform pcm = read_wav(test::data_path("audio/hello.wav"));
  Waveform f32 = read_wav(test::data_path("audio/hello_f32.wav"));
  Waveform stereo = read_wav(test::data_path("audio/hello_stereo.wav"), 0);
  EXPECT_EQ(pcm.sample_rate, 16000);
  ASSERT_GT(pcm.samples.size(), 16000u);
  ASSERT_EQ(pcm.samples.size(), f32.samples.size());
  ASSERT_EQ(pcm.samples.size(), stereo.samples.size());
  for (size_t i = 0; i < pcm.samples.size(); ++i) {
    ASSERT_NEAR(pcm.samples[i], f32.samples[i], 1.0 / 32768) << i;
    ASSERT_EQ(pcm.samples[i], stereo.samples[i]) << i;
  }
  EXPECT_EQ(read_wav(test::data_path("audio/hello_8k.wav")).sample_rate, 8000);
}

}  // namespace
}  // namespace moeasr
