// parse_wav on arbitrary bytes, for every channel choice: either a moeasr::Error
// or finite samples in [-1, 1] (floats as stored) at a sane rate.
#include <cmath>

#include "core/error.h"
#include "frontend/wav_reader.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (int channel : {-1, 0, 1, 7}) {
    try {
      const moeasr::Waveform w = moeasr::parse_wav(bytes, "fuzz.wav", channel);
      FUZZ_CHECK(w.sample_rate >= 1 && w.sample_rate <= 1000000, "sample rate %d", w.sample_rate);
      FUZZ_CHECK(w.samples.size() <= size, "%zu samples from %zu bytes", w.samples.size(), size);
    } catch (const moeasr::Error& e) {
      FUZZ_CHECK(e.status() != MOEASR_ERR_INTERNAL, "internal error: %s", e.what());
    }
  }
  return 0;
}
