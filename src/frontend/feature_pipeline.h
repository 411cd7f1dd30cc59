// Audio in, fbank frames out, for one utterance: sample checks, resampling to
// the model's rate, Kaldi fbank, and a buffer of the frames a consumer has
// not released yet. A stream feeds it piece by piece; the offline batch feeds
// it a whole utterance.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "formats/model_config.h"
#include "frontend/fbank.h"
#include "frontend/resampler.h"

namespace moeasr {

class FeaturePipeline {
 public:
  explicit FeaturePipeline(const FbankConfig& config);

  // Samples in [-1, 1] at any rate (resampled to the model's). Rejects NaN/Inf
  // (the pipeline is unchanged), a rate that changes within an utterance, and
  // input after input_finished().
  void accept_waveform(const float* samples, size_t n, int sample_rate);
  void accept_waveform_int16(const int16_t* samples, size_t n, int sample_rate);
  // Frames computed elsewhere ([frames, num_bins], before CMVN). Not mixed with audio.
  void accept_features(const float* features, int64_t frames);
  // Flushes the resampler; no input is accepted afterwards.
  void input_finished();
  bool finished() const { return finished_; }
  // Back to a fresh utterance, keeping buffers.
  void reset();

  int num_bins() const { return fbank_.num_bins(); }
  int64_t frames() const { return total_; }  // frames produced so far
  // Frame `first` (absolute index, not released yet) and the ones after it.
  const float* frames_from(int64_t first) const;
  // Frames before `first` will not be read again.
  void release_before(int64_t first);
  // True once audio (or features) arrived for this utterance.
  bool has_input() const { return input_rate_ != 0 || total_ != 0; }
  double audio_seconds() const { return audio_seconds_; }
  // Every frame of the utterance, kept only with keep_all (tests, --dump-dir).
  void set_keep_all(bool keep) { keep_all_ = keep; }
  const std::vector<float>& all_frames() const { return all_; }

 private:
  void push(const float* samples, size_t n);

  int model_rate_;
  Fbank fbank_;
  int input_rate_ = 0;  // sample rate of this utterance's audio (0 until the first piece)
  std::unique_ptr<Resampler> resampler_;
  std::vector<float> resampled_;
  std::vector<float> buffer_;  // frames not yet released, starting at absolute frame begin_
  int64_t begin_ = 0;
  int64_t total_ = 0;
  double audio_seconds_ = 0;
  bool finished_ = false;
  bool keep_all_ = false;
  std::vector<float> all_;
};

}  // namespace moeasr
