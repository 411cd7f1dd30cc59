#include "frontend/feature_pipeline.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace moeasr {

namespace {

FbankOptions fbank_options(const FbankConfig& c) {
  FbankOptions o;
  o.sample_rate = c.sample_rate;
  o.frame_length_ms = c.frame_length_ms;
  o.frame_shift_ms = c.frame_shift_ms;
  o.num_mel_bins = c.num_mel_bins;
  return o;
}

}  // namespace

FeaturePipeline::FeaturePipeline(const FbankConfig& config)
    : model_rate_(config.sample_rate), fbank_(fbank_options(config)) {}

void FeaturePipeline::reset() {
  fbank_.reset();
  if (resampler_) resampler_->reset();
  input_rate_ = 0;
  buffer_.clear();
  begin_ = total_ = 0;
  audio_seconds_ = 0;
  finished_ = false;
  all_.clear();
}

void FeaturePipeline::push(const float* samples, size_t n) {
  const size_t before = buffer_.size();
  fbank_.accept_waveform(samples, n, &buffer_);
  total_ += static_cast<int64_t>((buffer_.size() - before) / fbank_.num_bins());
  if (keep_all_) all_.insert(all_.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(before), buffer_.end());
}

void FeaturePipeline::accept_waveform(const float* samples, size_t n, int sample_rate) {
  MOEASR_CHECK(!finished_, MOEASR_ERR_STATE, "accept_waveform after input_finished (call reset first)");
  MOEASR_CHECK(samples || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  MOEASR_CHECK(sample_rate > 0, MOEASR_ERR_INVALID_ARGUMENT, "sample rate must be positive, got ", sample_rate);
  for (size_t i = 0; i < n; ++i) {
    MOEASR_CHECK(std::isfinite(samples[i]), MOEASR_ERR_INVALID_ARGUMENT, "sample ", i,
                 " is not a finite number (NaN or Inf); the piece was ignored");
  }
  MOEASR_CHECK(input_rate_ == 0 || input_rate_ == sample_rate, MOEASR_ERR_INVALID_ARGUMENT, "sample rate changed from ",
               input_rate_, " to ", sample_rate, " within one utterance");
  input_rate_ = sample_rate;
  audio_seconds_ += static_cast<double>(n) / sample_rate;
  if (sample_rate == model_rate_) {
    push(samples, n);
    return;
  }
  if (!resampler_ || resampler_->in_rate() != sample_rate) resampler_ = std::make_unique<Resampler>(sample_rate, model_rate_);
  resampled_.clear();
  resampler_->process(samples, n, false, &resampled_);
  push(resampled_.data(), resampled_.size());
}

void FeaturePipeline::accept_waveform_int16(const int16_t* samples, size_t n, int sample_rate) {
  MOEASR_CHECK(samples || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = samples[i] / 32768.f;
  accept_waveform(f.data(), n, sample_rate);
}

void FeaturePipeline::accept_features(const float* features, int64_t frames) {
  MOEASR_CHECK(!finished_, MOEASR_ERR_STATE, "accept_features after input_finished (call reset first)");
  MOEASR_CHECK(frames >= 0 && (features || frames == 0), MOEASR_ERR_INVALID_ARGUMENT, "bad feature frames");
  MOEASR_CHECK(input_rate_ == 0, MOEASR_ERR_STATE, "accept_features after audio in the same utterance");
  const int64_t n = frames * fbank_.num_bins();
  for (int64_t i = 0; i < n; ++i) {
    MOEASR_CHECK(std::isfinite(features[i]), MOEASR_ERR_INVALID_ARGUMENT, "feature value ", i, " is not finite");
  }
  buffer_.insert(buffer_.end(), features, features + n);
  if (keep_all_) all_.insert(all_.end(), features, features + n);
  total_ += frames;
}

void FeaturePipeline::input_finished() {
  MOEASR_CHECK(!finished_, MOEASR_ERR_STATE, "input_finished called twice (call reset first)");
  if (resampler_ && input_rate_ != model_rate_ && input_rate_ != 0) {
    resampled_.clear();
    resampler_->process(nullptr, 0, true, &resampled_);
    push(resampled_.data(), resampled_.size());
  }
  finished_ = true;
}

const float* FeaturePipeline::frames_from(int64_t first) const {
  MOEASR_CHECK(first >= begin_ && first <= total_, MOEASR_ERR_INTERNAL, "frame ", first, " is not buffered (",
               begin_, "..", total_, ")");
  return buffer_.data() + (first - begin_) * fbank_.num_bins();
}

void FeaturePipeline::release_before(int64_t first) {
  // Drop the released frames once they are at least half of the buffer, so
  // a long stream moves each frame about once.
  const int64_t bins = fbank_.num_bins();
  const int64_t drop = std::min(first, total_) - begin_;
  if (drop > 0 && drop * bins * 2 >= static_cast<int64_t>(buffer_.size())) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(drop * bins));
    begin_ += drop;
  }
}

}  // namespace moeasr
