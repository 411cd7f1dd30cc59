#include "frontend/fbank.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include <unsupported/Eigen/FFT>

#include "core/error.h"

namespace moeasr {

struct Fbank::FftImpl {
  Eigen::FFT<double> fft;
};

namespace {

double mel_scale(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

}  // namespace

Fbank::Fbank(const FbankOptions& opts) : opts_(opts), fft_(std::make_unique<FftImpl>()) {
  MOEASR_CHECK(opts.sample_rate > 0 && opts.frame_length_ms > 0 && opts.frame_shift_ms > 0 && opts.num_mel_bins > 0,
               MOEASR_ERR_INVALID_ARGUMENT, "fbank options must be positive");
  // Same truncation as torchaudio / Kaldi.
  window_size_ = static_cast<int>(opts.sample_rate * opts.frame_length_ms * 0.001);
  window_shift_ = static_cast<int>(opts.sample_rate * opts.frame_shift_ms * 0.001);
  MOEASR_CHECK(window_size_ >= 2 && window_shift_ >= 1, MOEASR_ERR_INVALID_ARGUMENT, "fbank window of ",
               window_size_, " samples is too small");
  fft_size_ = 1;
  while (fft_size_ < window_size_) fft_size_ <<= 1;

  // Povey window: a Hann window (symmetric) raised to 0.85; hanning: the Hann window itself.
  MOEASR_CHECK(opts.window == FbankWindow::kPovey || opts.window == FbankWindow::kHanning,
               MOEASR_ERR_INVALID_ARGUMENT, "unknown fbank window type");
  window_.resize(window_size_);
  const double a = 2.0 * M_PI / (window_size_ - 1);
  const double power = opts.window == FbankWindow::kPovey ? 0.85 : 1.0;
  for (int i = 0; i < window_size_; ++i) window_[i] = std::pow(0.5 - 0.5 * std::cos(a * i), power);

  const double nyquist = 0.5 * opts.sample_rate;
  const double high = opts.high_freq > 0 ? opts.high_freq : nyquist + opts.high_freq;
  MOEASR_CHECK(opts.low_freq >= 0 && high > opts.low_freq && high <= nyquist, MOEASR_ERR_INVALID_ARGUMENT,
               "bad mel frequency range [", opts.low_freq, ", ", high, "]");
  // Triangular mel filters. Kaldi and torchaudio compute them in float32; so
  // do we, step by step, since near a triangle's edge the float32 rounding
  // moves a weight by more than the precision we want to match.
  const double mel_low = mel_scale(opts.low_freq), mel_high = mel_scale(high);
  const float low_f = static_cast<float>(mel_low);
  const float delta_f = static_cast<float>((mel_high - mel_low) / (opts.num_mel_bins + 1));
  const float bin_width_f = static_cast<float>(static_cast<double>(opts.sample_rate) / fft_size_);
  const int num_fft_bins = fft_size_ / 2;  // the Nyquist bin gets weight 0, as in Kaldi
  std::vector<float> fft_mel(num_fft_bins);
  for (int k = 0; k < num_fft_bins; ++k) {
    const float freq = bin_width_f * static_cast<float>(k);
    fft_mel[k] = 1127.0f * std::log(1.0f + freq / 700.0f);
  }
  mel_first_.resize(opts.num_mel_bins);
  mel_weights_.resize(opts.num_mel_bins);
  for (int m = 0; m < opts.num_mel_bins; ++m) {
    const float left = low_f + static_cast<float>(m) * delta_f;
    const float center = low_f + static_cast<float>(m + 1) * delta_f;
    const float right = low_f + static_cast<float>(m + 2) * delta_f;
    int first = -1;
    std::vector<double> weights;
    for (int k = 0; k < num_fft_bins; ++k) {
      const float up = (fft_mel[k] - left) / (center - left);
      const float down = (right - fft_mel[k]) / (right - center);
      const float w = std::max(0.f, std::min(up, down));
      if (w > 0) {
        if (first < 0) first = k;
        weights.resize(k - first + 1, 0.0);
        weights[k - first] = w;
      }
    }
    mel_first_[m] = std::max(first, 0);
    mel_weights_[m] = std::move(weights);
  }

  frame_.resize(window_size_);
  padded_.assign(fft_size_, 0.0);
  power_.resize(fft_size_ / 2 + 1);
  fft_->fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
}

Fbank::~Fbank() = default;
Fbank::Fbank(Fbank&&) noexcept = default;
Fbank& Fbank::operator=(Fbank&&) noexcept = default;

long Fbank::num_frames(size_t n) const {
  if (n < static_cast<size_t>(window_size_)) return 0;
  return 1 + static_cast<long>((n - window_size_) / window_shift_);
}

void Fbank::reset() {
  pending_.clear();
  frames_emitted_ = 0;
}

void Fbank::accept_waveform(const float* samples, size_t n, std::vector<float>* features) {
  pending_.reserve(pending_.size() + n);
  for (size_t i = 0; i < n; ++i) pending_.push_back(static_cast<double>(samples[i]) * opts_.input_scale);
  size_t start = 0;
  while (pending_.size() - start >= static_cast<size_t>(window_size_)) {
    const size_t offset = features->size();
    features->resize(offset + opts_.num_mel_bins);
    compute_frame(pending_.data() + start, features->data() + offset);
    ++frames_emitted_;
    start += window_shift_;
  }
  pending_.erase(pending_.begin(), pending_.begin() + std::min(start, pending_.size()));
}

void Fbank::compute_frame(const double* in, float* out) {
  const int n = window_size_;
  // Remove DC.
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += in[i];
  const double mean = sum / n;
  for (int i = 0; i < n; ++i) frame_[i] = in[i] - mean;
  // Pre-emphasis; the first sample is emphasised against itself (Kaldi).
  const double preemph = opts_.preemph;
  for (int i = n - 1; i > 0; --i) frame_[i] -= preemph * frame_[i - 1];
  frame_[0] -= preemph * frame_[0];
  for (int i = 0; i < n; ++i) padded_[i] = frame_[i] * window_[i];
  std::fill(padded_.begin() + n, padded_.end(), 0.0);

  fft_->fft.fwd(spectrum_, padded_);
  for (size_t k = 0; k < power_.size(); ++k) power_[k] = std::norm(spectrum_[k]);

  for (int m = 0; m < opts_.num_mel_bins; ++m) {
    const double* p = power_.data() + mel_first_[m];
    const std::vector<double>& w = mel_weights_[m];
    double e = 0.0;
    for (size_t k = 0; k < w.size(); ++k) e += w[k] * p[k];
    out[m] = static_cast<float>(std::log(std::max(e, static_cast<double>(FLT_EPSILON))));
  }
}

std::vector<float> compute_fbank(const float* samples, size_t n, const FbankOptions& opts) {
  Fbank fbank(opts);
  std::vector<float> features;
  fbank.accept_waveform(samples, n, &features);
  return features;
}

}  // namespace moeasr
