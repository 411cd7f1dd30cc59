#include "frontend/fbank.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include <unsupported/Eigen/FFT>

#include "core/error.h"

namespace moeasr {

struct Fbank::FftImpl {
  Eigen::FFT<float> fft;
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

  // Povey window: a Hann window (symmetric) raised to 0.85.
  window_.resize(window_size_);
  const double a = 2.0 * M_PI / (window_size_ - 1);
  for (int i = 0; i < window_size_; ++i) window_[i] = static_cast<float>(std::pow(0.5 - 0.5 * std::cos(a * i), 0.85));

  const double nyquist = 0.5 * opts.sample_rate;
  const double high = opts.high_freq > 0 ? opts.high_freq : nyquist + opts.high_freq;
  MOEASR_CHECK(opts.low_freq >= 0 && high > opts.low_freq && high <= nyquist, MOEASR_ERR_INVALID_ARGUMENT,
               "bad mel frequency range [", opts.low_freq, ", ", high, "]");
  const double mel_low = mel_scale(opts.low_freq), mel_high = mel_scale(high);
  const double delta = (mel_high - mel_low) / (opts.num_mel_bins + 1);
  const double bin_width = static_cast<double>(opts.sample_rate) / fft_size_;
  const int num_fft_bins = fft_size_ / 2;  // the Nyquist bin gets weight 0, as in Kaldi
  mel_first_.resize(opts.num_mel_bins);
  mel_weights_.resize(opts.num_mel_bins);
  for (int m = 0; m < opts.num_mel_bins; ++m) {
    const double left = mel_low + m * delta, center = left + delta, right = center + delta;
    int first = -1;
    std::vector<float> weights;
    for (int k = 0; k < num_fft_bins; ++k) {
      const double mel = mel_scale(bin_width * k);
      const double w = std::max(0.0, std::min((mel - left) / (center - left), (right - mel) / (right - center)));
      if (w > 0) {
        if (first < 0) first = k;
        weights.resize(k - first + 1, 0.f);
        weights[k - first] = static_cast<float>(w);
      }
    }
    mel_first_[m] = std::max(first, 0);
    mel_weights_[m] = std::move(weights);
  }

  frame_.resize(window_size_);
  padded_.assign(fft_size_, 0.f);
  power_.resize(fft_size_ / 2 + 1);
  fft_->fft.SetFlag(Eigen::FFT<float>::HalfSpectrum);
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
  for (size_t i = 0; i < n; ++i) pending_.push_back(samples[i] * opts_.input_scale);
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

void Fbank::compute_frame(const float* in, float* out) {
  const int n = window_size_;
  // Remove DC.
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += in[i];
  const float mean = static_cast<float>(sum / n);
  for (int i = 0; i < n; ++i) frame_[i] = in[i] - mean;
  // Pre-emphasis; the first sample is emphasised against itself (Kaldi).
  for (int i = n - 1; i > 0; --i) frame_[i] -= opts_.preemph * frame_[i - 1];
  frame_[0] -= opts_.preemph * frame_[0];
  for (int i = 0; i < n; ++i) padded_[i] = frame_[i] * window_[i];
  std::fill(padded_.begin() + n, padded_.end(), 0.f);

  fft_->fft.fwd(spectrum_, padded_);
  for (size_t k = 0; k < power_.size(); ++k) power_[k] = std::norm(spectrum_[k]);

  for (int m = 0; m < opts_.num_mel_bins; ++m) {
    const float* p = power_.data() + mel_first_[m];
    const std::vector<float>& w = mel_weights_[m];
    float e = 0.f;
    for (size_t k = 0; k < w.size(); ++k) e += w[k] * p[k];
    out[m] = std::log(std::max(e, FLT_EPSILON));
  }
}

std::vector<float> compute_fbank(const float* samples, size_t n, const FbankOptions& opts) {
  Fbank fbank(opts);
  std::vector<float> features;
  fbank.accept_waveform(samples, n, &features);
  return features;
}

}  // namespace moeasr
