// Streaming sample-rate conversion by sinc interpolation: libsamplerate's
// (resampler.cc), or, in a build without it (MOEASR_WITH_SAMPLERATE=OFF), a
// built-in Kaiser-windowed sinc (resampler_sinc.cc). Both keep a 16 kHz
// model's band (up to 8 kHz) within 1e-3 and give the same output for any
// split of the input into pieces.
#pragma once

#include <cstddef>
#include <vector>

namespace moeasr {

class Resampler {
 public:
  // Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for rates it cannot convert
  // between (ratio outside [1/256, 256]).
  Resampler(int in_rate, int out_rate);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  int in_rate() const { return in_rate_; }
  int out_rate() const { return out_rate_; }
  // Appends the output for `n` more input samples; `last` flushes the filter tail.
  void process(const float* in, size_t n, bool last, std::vector<float>* out);
  // Forgets all history (next utterance).
  void reset();

 private:
  int in_rate_, out_rate_;
  void* state_ = nullptr;  // SRC_STATE*, or the built-in resampler's state
};

}  // namespace moeasr
