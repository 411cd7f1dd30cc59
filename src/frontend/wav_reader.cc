#include "frontend/wav_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"

namespace moeasr {

namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;
constexpr uint32_t kMaxFmtBytes = 1024;  // 16, 18 or 40 in practice
constexpr size_t kFramesPerRead = 4096;

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

float decode_sample(const unsigned char* p, bool is_float, int bits) {
  if (is_float) {
    if (bits == 32) {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    double d;
    std::memcpy(&d, p, 8);
    return static_cast<float>(d);
  }
  switch (bits) {
    case 8: return (static_cast<int>(p[0]) - 128) / 128.0f;
    case 16: return static_cast<int16_t>(u16(p)) / 32768.0f;
    case 24: {
      // Place the 24 bits at the top of an int32, then shift back keeping the sign.
      const uint32_t u = (uint32_t{p[0]} << 8) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 24);
      return static_cast<float>(static_cast<int32_t>(u) >> 8) / 8388608.0f;
    }
    default: return static_cast<float>(static_cast<int32_t>(u32(p)) / 2147483648.0);
  }
}

// Reads exactly n bytes; false at the end of the input.
bool read_exact(std::istream& in, unsigned char* dst, size_t n) {
  in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(n));
  return static_cast<size_t>(in.gcount()) == n;
}

}  // namespace

std::unique_ptr<WavReader> WavReader::open(const std::string& path, int channel) {
  if (path == "-") return std::make_unique<WavReader>(std::cin, "standard input", channel);
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  MOEASR_CHECK(file->is_open(), MOEASR_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
  auto reader = std::make_unique<WavReader>(*file, path, channel);
  reader->owned_ = std::move(file);
  return reader;
}

WavReader::WavReader(std::istream& in, std::string source, int channel)
    : in_(&in), source_(std::move(source)), channel_(channel) {
  MOEASR_CHECK(channel >= kWavDownmix, MOEASR_ERR_INVALID_ARGUMENT, source_, ": bad channel ", channel);
  read_header();
}

void WavReader::read_header() {
  unsigned char head[12];
  MOEASR_CHECK(read_exact(*in_, head, 12) && std::memcmp(head, "RIFF", 4) == 0 && std::memcmp(head + 8, "WAVE", 4) == 0,
               MOEASR_ERR_FORMAT, source_, ": not a RIFF/WAVE file");
  bool have_fmt = false;
  uint16_t format = 0, block_align = 0;
  for (;;) {
    unsigned char chunk[8];
    MOEASR_CHECK(read_exact(*in_, chunk, 8), MOEASR_ERR_FORMAT, source_,
                 have_fmt ? ": no data chunk" : ": no fmt chunk");
    const uint32_t size = u32(chunk + 4);
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      unsigned char f[kMaxFmtBytes];
      MOEASR_CHECK(size >= 16 && size <= kMaxFmtBytes && read_exact(*in_, f, size), MOEASR_ERR_FORMAT, source_,
                   ": bad fmt chunk");
      if (size & 1u) in_->ignore(1);
      format = u16(f);
      channels_ = u16(f + 2);
      const uint32_t rate = u32(f + 4);
      block_align = u16(f + 12);
      bits_ = u16(f + 14);
      if (format == kFormatExtensible) {
        MOEASR_CHECK(size >= 40, MOEASR_ERR_FORMAT, source_, ": bad WAVE_FORMAT_EXTENSIBLE fmt chunk");
        format = u16(f + 24);  // the first two bytes of the sub-format GUID
      }
      MOEASR_CHECK(rate >= 1 && rate <= 1000000, MOEASR_ERR_FORMAT, source_, ": bad sample rate ", rate);
      sample_rate_ = static_cast<int>(rate);
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      MOEASR_CHECK(have_fmt, MOEASR_ERR_FORMAT, source_, ": data chunk before fmt chunk");
      // Streaming writers leave 0 or 0xFFFFFFFF as the size: read to the end.
      if (size != 0 && size != 0xFFFFFFFFu && block_align > 0) declared_frames_ = size / block_align;
      break;
    } else {
      // Chunks are padded to an even size.
      in_->ignore(static_cast<std::streamsize>(size) + (size & 1u));
      MOEASR_CHECK(!in_->eof(), MOEASR_ERR_FORMAT, source_, have_fmt ? ": no data chunk" : ": no fmt chunk");
    }
  }
  const bool pcm_ok = format == kFormatPcm && (bits_ == 8 || bits_ == 16 || bits_ == 24 || bits_ == 32);
  const bool float_ok = format == kFormatFloat && (bits_ == 32 || bits_ == 64);
  MOEASR_CHECK(pcm_ok || float_ok, MOEASR_ERR_UNSUPPORTED, source_, ": unsupported sample format (format tag ",
               format, ", ", bits_, " bits); supported: PCM 8/16/24/32-bit, IEEE float 32/64-bit");
  is_float_ = float_ok;
  MOEASR_CHECK(channels_ >= 1, MOEASR_ERR_FORMAT, source_, ": zero channels");
  MOEASR_CHECK(block_align == channels_ * (bits_ / 8), MOEASR_ERR_FORMAT, source_, ": block align ", block_align,
               " does not match ", channels_, " channels of ", bits_, " bits");
  if (channel_ == -1) {
    MOEASR_CHECK(channels_ == 1, MOEASR_ERR_INVALID_ARGUMENT, source_, " has ", channels_,
                 " channels; choose one (channel option) or mix them to decode it");
    channel_ = 0;
  }
  MOEASR_CHECK(channel_ < channels_, MOEASR_ERR_INVALID_ARGUMENT, source_, ": channel ", channel_,
               " requested but the file has ", channels_);
}

size_t WavReader::read(std::vector<float>& out, size_t max_frames) {
  if (at_end_) return 0;
  const size_t frame_bytes = static_cast<size_t>(channels_) * (bits_ / 8);
  size_t want = max_frames;
  if (declared_frames_ >= 0) want = std::min<size_t>(want, static_cast<size_t>(declared_frames_ - frames_read_));
  size_t done = 0;
  while (done < want) {
    const size_t n = std::min(want - done, kFramesPerRead);
    bytes_.resize(n * frame_bytes);
    in_->read(reinterpret_cast<char*>(bytes_.data()), static_cast<std::streamsize>(bytes_.size()));
    const size_t got = static_cast<size_t>(in_->gcount()) / frame_bytes;  // a partial frame is dropped
    const size_t bytes_per_sample = bits_ / 8;
    for (size_t i = 0; i < got; ++i) {
      const unsigned char* frame = bytes_.data() + i * frame_bytes;
      if (channel_ == kWavDownmix) {
        float sum = 0;
        for (int c = 0; c < channels_; ++c) sum += decode_sample(frame + c * bytes_per_sample, is_float_, bits_);
        out.push_back(sum / channels_);
      } else {
        out.push_back(decode_sample(frame + channel_ * bytes_per_sample, is_float_, bits_));
      }
    }
    done += got;
    frames_read_ += static_cast<int64_t>(got);
    if (got < n) {
      at_end_ = true;
      truncated_ = declared_frames_ >= 0 && frames_read_ < declared_frames_;
      break;
    }
  }
  if (declared_frames_ >= 0 && frames_read_ == declared_frames_) at_end_ = true;
  return done;
}

namespace {

Waveform read_all(WavReader& r) {
  Waveform w;
  w.sample_rate = r.sample_rate();
  while (r.read(w.samples, size_t{1} << 20) > 0) {
  }
  w.truncated = r.truncated();
  return w;
}

}  // namespace

Waveform read_wav(const std::string& path, int channel) { return read_all(*WavReader::open(path, channel)); }

Waveform parse_wav(const std::string& bytes, const std::string& source, int channel) {
  std::istringstream in(bytes);
  WavReader r(in, source, channel);
  return read_all(r);
}

}  // namespace moeasr
