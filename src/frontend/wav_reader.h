// RIFF/WAVE reader: PCM 8/16/24/32-bit and IEEE float 32/64, plain or
// WAVE_FORMAT_EXTENSIBLE. Samples come back as float in [-1, 1].
//
// WavReader reads a file piece by piece, so an hours-long recording never
// sits in memory (moeasr-decode feeds a stream from it); read_wav and
// parse_wav read a whole file with it.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace moeasr {

// `channel` value that averages all channels of a multi-channel file.
constexpr int kWavDownmix = -2;

class WavReader {
 public:
  // `path` "-" is standard input. `channel` >= 0 picks one channel of a
  // multi-channel file, kWavDownmix averages them; with -1 a multi-channel
  // file is an Error(MOEASR_ERR_INVALID_ARGUMENT). Unreadable files throw
  // Error(MOEASR_ERR_IO), corrupt or unsupported headers
  // Error(MOEASR_ERR_FORMAT / MOEASR_ERR_UNSUPPORTED).
  static std::unique_ptr<WavReader> open(const std::string& path, int channel = -1);
  // Reads from `in` (kept alive by the caller); `source` names it in errors.
  WavReader(std::istream& in, std::string source, int channel = -1);

  int sample_rate() const { return sample_rate_; }
  int channels() const { return channels_; }
  // Frames the header declares; -1 when the writer left a placeholder size
  // (0 or 0xFFFFFFFF, as streaming writers do) and the data runs to the end.
  int64_t declared_frames() const { return declared_frames_; }
  // Appends up to `max_frames` frames (one float each: the chosen channel or
  // the mix) to `out`; returns how many, 0 at the end of the data.
  size_t read(std::vector<float>& out, size_t max_frames);
  int64_t frames_read() const { return frames_read_; }
  // At the end: the data stopped before the size its header declares (a cut
  // file). The frames that were there have been returned, as sox does; a
  // trailing partial frame is dropped.
  bool truncated() const { return truncated_; }

 private:
  void read_header();

  std::unique_ptr<std::istream> owned_;
  std::istream* in_;
  std::string source_;
  int channel_;
  int sample_rate_ = 0, channels_ = 0, bits_ = 0;
  bool is_float_ = false;
  int64_t declared_frames_ = -1;
  int64_t frames_read_ = 0;
  bool truncated_ = false, at_end_ = false;
  std::vector<unsigned char> bytes_;
};

struct Waveform {
  int sample_rate = 0;
  std::vector<float> samples;  // one channel
  bool truncated = false;      // see WavReader::truncated()
};

// A whole file through WavReader (same `channel` rules and errors).
Waveform read_wav(const std::string& path, int channel = -1);
Waveform parse_wav(const std::string& bytes, const std::string& source, int channel = -1);

}  // namespace moeasr
