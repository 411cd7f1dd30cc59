#include "frontend/resampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "test_util.h"

namespace moeasr {
namespace {

std::vector<float> sine(int rate, double hz, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / rate));
  return v;
}

TEST(ResamplerTest, UpsamplesASineFaithfully) {
  const std::vector<float> in = sine(8000, 440, 8000);
  Resampler r(8000, 16000);
  std::vector<float> out;
  r.process(in.data(), in.size(), true, &out);
  ASSERT_NEAR(static_cast<double>(out.size()), 16000.0, 2.0);
  const std::vector<float> expect = sine(16000, 440, out.size());
  double max_err = 0;
  for (size_t i = 1000; i + 1000 < out.size(); ++i) max_err = std::max(max_err, std::fabs(out[i] - expect[i]) + 0.0);
  EXPECT_LT(max_err, 1e-3);  // aligned in time and in amplitude, away from the edges
}

TEST(ResamplerTest, PiecesGiveTheSameOutputAsOneCall) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
  std::vector<float> in(44100);
  for (float& x : in) x = noise(rng);
  Resampler whole(44100, 16000), pieces(44100, 16000);
  std::vector<float> a, b;
  whole.process(in.data(), in.size(), true, &a);
  std::uniform_int_distribution<size_t> piece(1, 3000);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min(piece(rng), in.size() - pos);
    pieces.process(in.data() + pos, n, false, &b);
    pos += n;
  }
  pieces.process(nullptr, 0, true, &b);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << i;
}

TEST(ResamplerTest, ResetStartsOver) {
  const std::vector<float> in = sine(8000, 300, 4000);
  Resampler r(8000, 16000);
  std::vector<float> a, b;
  r.process(in.data(), in.size(), true, &a);
  r.reset();
  r.process(in.data(), in.size(), true, &b);
  EXPECT_EQ(a, b);
}

TEST(ResamplerTest, RejectsImpossibleRates) {
  EXPECT_EQ(test::status_of([] { Resampler r(0, 16000); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(test::status_of([] { Resampler r(16000, -1); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(test::status_of([] { Resampler r(1, 16000); }), MOEASR_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace moeasr
