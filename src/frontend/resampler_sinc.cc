// The built-in resampler (MOEASR_WITH_SAMPLERATE=OFF): band-limited
// interpolation with a Kaiser-windowed sinc.
//
// Output sample j sits at input time t = j * in_rate / out_rate (an exact
// rational position, so pieces never drift) and is sum_i x[i] h(t - i) over
// the inputs within the kernel's reach, h(u) = 2 fc sinc(2 fc u) w(u / reach),
// normalized so the taps of every output sum to 1. The cutoff fc (in cycles
// per input sample) is 0.45 below the lower of the two Nyquist rates
// (0.9 of it): the band a model at the output rate uses passes untouched,
// aliases are attenuated by the Kaiser window's ~80 dB. The kernel is
// tabulated once per resampler (kTable points per unit of u, linear
// interpolation between them).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "frontend/resampler.h"

namespace moeasr {

namespace {

constexpr double kZeroCrossings = 16;  // per side, at the cutoff
constexpr double kBeta = 8.0;          // Kaiser window shape (~80 dB stopband)
constexpr int kTable = 512;            // kernel samples per input sample of u

// I0, the modified Bessel function of the first kind, by its series.
double bessel_i0(double x) {
  double sum = 1, term = 1;
  for (int k = 1; k < 50; ++k) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

struct SincState {
  int64_t step_in = 0, step_out = 0;  // in_rate / gcd, out_rate / gcd: t = j * step_in / step_out
  double reach = 0;                   // the kernel is zero beyond |u| >= reach (input samples)
  std::vector<float> table;           // h(u) for u = i / kTable, i in [0, reach * kTable + 1]
  std::vector<float> history;         // input samples from absolute index `first`
  int64_t first = 0;                  // absolute index of history[0]
  int64_t received = 0;               // input samples so far
  int64_t emitted = 0;                // output samples so far

  double kernel(double u) const {
    const double p = std::fabs(u) * kTable;
    const size_t i = static_cast<size_t>(p);
    if (i + 1 >= table.size()) return 0;
    const double f = p - static_cast<double>(i);
    return table[i] + f * (table[i + 1] - table[i]);
  }
};

}  // namespace

Resampler::Resampler(int in_rate, int out_rate) : in_rate_(in_rate), out_rate_(out_rate) {
  MOEASR_CHECK(in_rate > 0 && out_rate > 0, MOEASR_ERR_INVALID_ARGUMENT, "sample rates must be positive, got ",
               in_rate, " -> ", out_rate);
  const double ratio = static_cast<double>(out_rate) / in_rate;
  MOEASR_CHECK(ratio >= 1.0 / 256 && ratio <= 256, MOEASR_ERR_INVALID_ARGUMENT, "cannot resample from ", in_rate,
               " Hz to ", out_rate, " Hz (ratio outside [1/256, 256])");
  auto* s = new SincState();
  const int64_t g = std::gcd(static_cast<int64_t>(in_rate), static_cast<int64_t>(out_rate));
  s->step_in = in_rate / g;
  s->step_out = out_rate / g;
  const double cutoff = 0.45 * std::min(1.0, ratio);  // cycles per input sample
  s->reach = kZeroCrossings / (2 * cutoff);
  const size_t points = static_cast<size_t>(s->reach * kTable) + 2;
  s->table.resize(points);
  const double i0_beta = bessel_i0(kBeta);
  for (size_t i = 0; i < points; ++i) {
    const double u = static_cast<double>(i) / kTable;
    if (u >= s->reach) break;
    const double x = 2 * cutoff * u;
    const double sinc = x == 0 ? 1.0 : std::sin(M_PI * x) / (M_PI * x);
    const double r = u / s->reach;
    s->table[i] = static_cast<float>(2 * cutoff * sinc * bessel_i0(kBeta * std::sqrt(1 - r * r)) / i0_beta);
  }
  state_ = s;
}

Resampler::~Resampler() { delete static_cast<SincState*>(state_); }

void Resampler::reset() {
  auto* s = static_cast<SincState*>(state_);
  s->history.clear();
  s->first = s->received = s->emitted = 0;
}

void Resampler::process(const float* in, size_t n, bool last, std::vector<float>* out) {
  auto* s = static_cast<SincState*>(state_);
  if (n) s->history.insert(s->history.end(), in, in + n);
  s->received += static_cast<int64_t>(n);
  // Output j (time t = j * step_in / step_out) needs the inputs up to
  // floor(t + reach); at the end, missing inputs past the last one are zeros.
  // Outputs exist for t < received (ceil(received * out / in) of them).
  const int64_t reach = static_cast<int64_t>(std::ceil(s->reach));
  for (;; ++s->emitted) {
    const int64_t num = s->emitted * s->step_in;  // t = num / step_out
    if (num >= s->received * s->step_out) break;
    const int64_t center = num / s->step_out;
    if (!last && center + reach >= s->received) break;
    const double t = static_cast<double>(num) / static_cast<double>(s->step_out);
    const int64_t lo = std::max<int64_t>(0, center - reach), hi = std::min(s->received - 1, center + reach + 1);
    double sum = 0, weight = 0;
    for (int64_t i = lo; i <= hi; ++i) {
      const double h = s->kernel(t - static_cast<double>(i));
      sum += h * s->history[static_cast<size_t>(i - s->first)];
      weight += h;
    }
    // Normalized: DC passes at gain 1 wherever t falls between the samples;
    // near the start, taps before the first sample are missing, not zero.
    out->push_back(weight != 0 ? static_cast<float>(sum / weight) : 0.f);
  }
  // Inputs no future output reaches.
  const int64_t next_center = s->emitted * s->step_in / s->step_out;
  const int64_t keep_from = std::max<int64_t>(s->first, next_center - reach - 1);
  if (keep_from - s->first > 4096) {
    s->history.erase(s->history.begin(), s->history.begin() + (keep_from - s->first));
    s->first = keep_from;
  }
}

}  // namespace moeasr
