#pragma once

#include <cstdint>

namespace moeasr {

// When a live utterance has ended, from the CTC posteriors alone (the rules of
// WeNet's and sherpa-onnx's runtimes). An application that keeps one stream
// open for hours asks after each decode call and, on an endpoint, takes the
// final result and resets the stream; without that the transcript, and the
// memory that holds it, grows for as long as the stream lives.
//
// A frame is silence when its blank posterior exceeds `blank_threshold`.
// Endpoint when any enabled rule (duration > 0) holds:
//   1. nothing decoded yet and trailing silence >= silence_without_text_s
//   2. something decoded and trailing silence >= silence_after_text_s
//   3. the utterance is at least max_utterance_s long
struct EndpointOptions {
  float silence_after_text_s = 1.0f;
  float silence_without_text_s = 5.0f;
  float max_utterance_s = 20.0f;
  float blank_threshold = 0.8f;
};

// Throws Error(MOEASR_ERR_INVALID_ARGUMENT) naming the field unless every
// duration is finite and >= 0 (0 disables its rule) and the threshold is in (0, 1).
void validate(const EndpointOptions& options);

class EndpointDetector {
 public:
  // `frame_s`: seconds per CTC frame (frame shift times subsampling).
  EndpointDetector(const EndpointOptions& options, int blank, double frame_s);

  void reset() { frames_ = trailing_silence_ = 0; }
  // Log-probs of the next `num_frames` CTC frames, row-major [num_frames, vocab].
  void observe(const float* logp, int64_t num_frames, int64_t vocab);
  bool detected(bool decoded_something) const;

  double trailing_silence_s() const { return trailing_silence_ * frame_s_; }
  double utterance_s() const { return frames_ * frame_s_; }

 private:
  EndpointOptions options_;
  int blank_;
  double frame_s_;
  float log_threshold_;
  int64_t frames_ = 0, trailing_silence_ = 0;
};

}  // namespace moeasr
