// C API: reading WAV files (moeasr_wave_read), through the same reader as the
// command-line tools (frontend/wav_reader.h).
#include <memory>
#include <vector>

#include "api/handles.h"
#include "frontend/wav_reader.h"

using moeasr::api::guarded;

namespace {

constexpr uint32_t kWaveMagic = 0x4D4F4557;  // "MOEW"

// A moeasr_wave and the samples it points to; freed as one.
struct WaveHolder : moeasr_wave {
  uint32_t magic = kWaveMagic;
  std::vector<float> storage;
};

}  // namespace

moeasr_status moeasr_wave_read(const char* path, int32_t channel, moeasr_wave** out_wave) {
  if (out_wave) *out_wave = nullptr;
  return guarded("moeasr_wave_read", [&] {
    MOEASR_CHECK(out_wave, MOEASR_ERR_INVALID_ARGUMENT, "out_wave is NULL");
    MOEASR_CHECK(path, MOEASR_ERR_INVALID_ARGUMENT, "path is NULL");
    MOEASR_CHECK(channel >= MOEASR_WAV_MIX, MOEASR_ERR_INVALID_ARGUMENT, "channel ", channel,
                 " (use >= 0, -1 for a mono file or MOEASR_WAV_MIX)");
    static_assert(MOEASR_WAV_MIX == moeasr::kWavDownmix, "one value for mixing");
    moeasr::Waveform w = moeasr::read_wav(path, channel);
    auto h = std::make_unique<WaveHolder>();
    h->storage = std::move(w.samples);
    h->samples = h->storage.data();
    h->num_samples = h->storage.size();
    h->sample_rate = w.sample_rate;
    h->truncated = w.truncated ? 1 : 0;
    *out_wave = h.release();
  });
}

moeasr_status moeasr_wave_free(moeasr_wave* wave) {
  if (!wave) return MOEASR_OK;
  return guarded("moeasr_wave_free", [&] {
    auto* holder = static_cast<WaveHolder*>(wave);
    MOEASR_CHECK(holder->magic == kWaveMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_wave");
    holder->magic = kDeadMagic;
    delete holder;
  });
}
