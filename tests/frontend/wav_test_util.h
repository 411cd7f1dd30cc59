// Builds WAV images in memory for the reader tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moeasr::test {

inline void put_u16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v & 0xFF));
  s->push_back(static_cast<char>(v >> 8));
}
inline void put_u32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A canonical RIFF/WAVE with one fmt and one data chunk.
inline std::string make_wav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits,
                            const std::string& payload, bool extensible = false) {
  std::string fmt;
  put_u16(&fmt, extensible ? 0xFFFE : format);
  put_u16(&fmt, channels);
  put_u32(&fmt, rate);
  put_u32(&fmt, rate * channels * bits / 8);
  put_u16(&fmt, static_cast<uint16_t>(channels * bits / 8));
  put_u16(&fmt, bits);
  if (extensible) {
    put_u16(&fmt, 22);
    put_u16(&fmt, bits);
    put_u32(&fmt, 0);
    put_u16(&fmt, format);  // sub-format GUID starts with the format tag
    fmt += std::string("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 14);
  }
  std::string body = "WAVE";
  body += "fmt ";
  put_u32(&body, static_cast<uint32_t>(fmt.size()));
  body += fmt;
  body += "data";
  put_u32(&body, static_cast<uint32_t>(payload.size()));
  body += payload;
  std::string out = "RIFF";
  put_u32(&out, static_cast<uint32_t>(body.size()));
  return out + body;
}

inline std::string pcm16_payload(const std::vector<int16_t>& v) {
  std::string s;
  for (int16_t x : v) put_u16(&s, static_cast<uint16_t>(x));
  return s;
}

}  // namespace moeasr::test
