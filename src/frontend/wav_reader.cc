#include "frontend/wav_reader.h"

#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"

namespace moeasr {

namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

float decode_sample(const unsigned char* p, uint16_t format, int bits) {
  if (format == kFormatFloat) {
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

}  // namespace

Waveform parse_wav(const std::string& bytes, const std::string& source, int channel) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  MOEASR_CHECK(size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WAVE", 4) == 0,
               MOEASR_ERR_FORMAT, source, ": not a RIFF/WAVE file");

  bool have_fmt = false;
  uint16_t format = 0, channels = 0, block_align = 0, bits = 0;
  uint32_t sample_rate = 0;
  const unsigned char* pcm = nullptr;
  size_t pcm_bytes = 0;

  size_t pos = 12;
  while (pos + 8 <= size) {
    const unsigned char* chunk = data + pos;
    const uint32_t chunk_size = u32(chunk + 4);
    const size_t body = pos + 8;
    const size_t available = size - body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      MOEASR_CHECK(chunk_size >= 16 && chunk_size <= available, MOEASR_ERR_FORMAT, source, ": bad fmt chunk");
      const unsigned char* f = data + body;
      format = u16(f);
      channels = u16(f + 2);
      sample_rate = u32(f + 4);
      block_align = u16(f + 12);
      bits = u16(f + 14);
      if (format == kFormatExtensible) {
        MOEASR_CHECK(chunk_size >= 40, MOEASR_ERR_FORMAT, source, ": bad WAVE_FORMAT_EXTENSIBLE fmt chunk");
        format = u16(f + 24);  // the first two bytes of the sub-format GUID
      }
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      MOEASR_CHECK(have_fmt, MOEASR_ERR_FORMAT, source, ": data chunk before fmt chunk");
      pcm = data + body;
      // Streaming writers leave 0 or 0xFFFFFFFF as the size: take the rest of the file.
      if (chunk_size == 0 || chunk_size == 0xFFFFFFFFu) {
        pcm_bytes = available;
      } else {
        MOEASR_CHECK(chunk_size <= available, MOEASR_ERR_FORMAT, source, ": truncated: data chunk claims ",
                     chunk_size, " bytes, the file has ", available);
        pcm_bytes = chunk_size;
      }
      break;
    }
    // Chunks are padded to an even size.
    const uint64_t next = static_cast<uint64_t>(body) + chunk_size + (chunk_size & 1u);
    if (next > size) break;
    pos = static_cast<size_t>(next);
  }
  MOEASR_CHECK(have_fmt, MOEASR_ERR_FORMAT, source, ": no fmt chunk");
  MOEASR_CHECK(pcm, MOEASR_ERR_FORMAT, source, ": no data chunk");

  const bool pcm_ok = format == kFormatPcm && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
  const bool float_ok = format == kFormatFloat && (bits == 32 || bits == 64);
  MOEASR_CHECK(pcm_ok || float_ok, MOEASR_ERR_UNSUPPORTED, source, ": unsupported sample format (format tag ",
               format, ", ", bits, " bits); supported: PCM 8/16/24/32-bit, IEEE float 32/64-bit");
  MOEASR_CHECK(channels >= 1, MOEASR_ERR_FORMAT, source, ": zero channels");
  MOEASR_CHECK(sample_rate >= 1 && sample_rate <= 1000000, MOEASR_ERR_FORMAT, source, ": bad sample rate ",
               sample_rate);
  const size_t bytes_per_sample = bits / 8;
  MOEASR_CHECK(block_align == channels * bytes_per_sample, MOEASR_ERR_FORMAT, source, ": block align ",
               block_align, " does not match ", channels, " channels of ", bits, " bits");
  if (channel < 0) {
    MOEASR_CHECK(channels == 1, MOEASR_ERR_INVALID_ARGUMENT, source, " has ", channels,
                 " channels; choose one (channel option) to decode it");
    channel = 0;
  }
  MOEASR_CHECK(channel < channels, MOEASR_ERR_INVALID_ARGUMENT, source, ": channel ", channel,
               " requested but the file has ", channels);

  Waveform w;
  w.sample_rate = static_cast<int>(sample_rate);
  const size_t frames = pcm_bytes / block_align;  // a trailing partial frame is dropped
  w.samples.resize(frames);
  for (size_t i = 0; i < frames; ++i) {
    w.samples[i] = decode_sample(pcm + i * block_align + channel * bytes_per_sample, format, bits);
  }
  return w;
}

Waveform read_wav(const std::string& path, int channel) { return parse_wav(read_file(path), path, channel); }

}  // namespace moeasr
