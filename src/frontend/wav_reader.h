// RIFF/WAVE reader: PCM 8/16/24/32-bit and IEEE float 32/64, plain or
// WAVE_FORMAT_EXTENSIBLE. Samples come back as float in [-1, 1].
#pragma once

#include <string>
#include <vector>

namespace moeasr {

struct Waveform {
  int sample_rate = 0;
  std::vector<float> samples;  // one channel
};

// `channel` picks one channel of a multi-channel file; with channel < 0 a
// multi-channel file is an Error(MOEASR_ERR_INVALID_ARGUMENT). Corrupt or
// unsupported files throw Error(MOEASR_ERR_FORMAT / MOEASR_ERR_UNSUPPORTED).
Waveform read_wav(const std::string& path, int channel = -1);
Waveform parse_wav(const std::string& bytes, const std::string& source, int channel = -1);

}  // namespace moeasr
