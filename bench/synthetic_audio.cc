#include "synthetic_audio.h"

#include <cmath>
#include <random>

namespace moeasr::bench {

namespace {

// Two-pole resonator (a formant) applied in place.
void resonate(std::vector<double>& x, size_t begin, size_t end, double freq, double bandwidth, int rate) {
  const double r = std::exp(-M_PI * bandwidth / rate);
  const double a1 = 2 * r * std::cos(2 * M_PI * freq / rate), a2 = -r * r;
  double y1 = 0, y2 = 0;
  for (size_t i = begin; i < end; ++i) {
    const double y = (1 - r) * x[i] + a1 * y1 + a2 * y2;
    y2 = y1;
    y1 = y;
    x[i] = y;
  }
}

}  // namespace

std::vector<float> synthetic_speech(double seconds, int rate, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 1);
  const size_t n = static_cast<size_t>(seconds * rate);
  std::vector<double> out(n, 0.0);
  size_t pos = 0;
  while (pos < n) {
    const size_t syllable = static_cast<size_t>((0.12 + 0.18 * u(rng)) * rate);
    const size_t end = std::min(n, pos + syllable);
    if (u(rng) < 0.8) {  // voiced
      std::vector<double> src(end - pos, 0.0);
      double phase = 0;
      const double f0 = 90 + 140 * u(rng), drift = (u(rng) - 0.5) * 60;
      for (size_t i = 0; i < src.size(); ++i) {
        const double t = static_cast<double>(i) / src.size();
        phase += (f0 + drift * t) / rate;
        if (phase >= 1) {
          phase -= 1;
          src[i] = 1.0;  // glottal pulse
        }
        src[i] += 0.02 * noise(rng);
      }
      std::vector<double> sum(src.size(), 0.0);
      const double formants[3] = {300 + 500 * u(rng), 900 + 1300 * u(rng), 2300 + 900 * u(rng)};
      for (double f : formants) {
        std::vector<double> band = src;
        resonate(band, 0, band.size(), f, 80 + f / 20, rate);
        for (size_t i = 0; i < band.size(); ++i) sum[i] += band[i];
      }
      for (size_t i = 0; i < sum.size(); ++i) {
        const double env = std::sin(M_PI * (i + 0.5) / sum.size());  // syllable envelope
        out[pos + i] = 4.0 * env * sum[i];
      }
    } else {  // fricative-like noise burst
      for (size_t i = pos; i < end; ++i) out[i] = 0.05 * noise(rng);
      resonate(out, pos, end, 4000 + 2000 * u(rng), 1500, rate);
    }
    pos = end + static_cast<size_t>(0.03 * rate * u(rng));  // short pause
  }
  double peak = 1e-9;
  for (double v : out) peak = std::max(peak, std::fabs(v));
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = static_cast<float>(0.5 * out[i] / peak + 1e-4 * noise(rng));
  return f;
}

}  // namespace moeasr::bench
