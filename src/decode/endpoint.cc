#include "decode/endpoint.h"

#include <cmath>

#include "core/error.h"

namespace moeasr {

void validate(const EndpointOptions& o) {
  auto duration = [](float v, const char* name) {
    MOEASR_CHECK(std::isfinite(v) && v >= 0.f, MOEASR_ERR_INVALID_ARGUMENT, name,
                 " must be a finite number of seconds >= 0 (0 disables the rule), got ", v);
  };
  duration(o.silence_after_text_s, "endpoint_silence_after_text_s");
  duration(o.silence_without_text_s, "endpoint_silence_without_text_s");
  duration(o.max_utterance_s, "endpoint_max_utterance_s");
  MOEASR_CHECK(o.blank_threshold > 0.f && o.blank_threshold < 1.f, MOEASR_ERR_INVALID_ARGUMENT,
               "the endpoint blank threshold must be in (0, 1), got ", o.blank_threshold);
}

EndpointDetector::EndpointDetector(const EndpointOptions& options, int blank, double frame_s)
    : options_(options), blank_(blank), frame_s_(frame_s), log_threshold_(std::log(options.blank_threshold)) {
  validate(options_);
}

void EndpointDetector::observe(const float* logp, int64_t num_frames, int64_t vocab) {
  for (int64_t t = 0; t < num_frames; ++t) {
    trailing_silence_ = logp[t * vocab + blank_] > log_threshold_ ? trailing_silence_ + 1 : 0;
  }
  frames_ += num_frames;
}

bool EndpointDetector::detected(bool decoded_something) const {
  // Compare in frames rounded up, so 1.0 s at 40 ms per frame is 25 frames, not 24.999.
  auto reached = [&](int64_t frames, float seconds) {
    return seconds > 0.f && frames >= static_cast<int64_t>(std::ceil(seconds / frame_s_ - 1e-6));
  };
  if (!decoded_something && reached(trailing_silence_, options_.silence_without_text_s)) return true;
  if (decoded_something && reached(trailing_silence_, options_.silence_after_text_s)) return true;
  return reached(frames_, options_.max_utterance_s);
}

}  // namespace moeasr
