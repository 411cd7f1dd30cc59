// A deterministic speech-like test signal: voiced "syllables" (a glottal
// pulse train through three formant resonators, pitch and formants drifting)
// separated by short pauses and unvoiced noise bursts, ~4 syllables a second.
// It exercises the front end and the model like speech does, without a file.
#pragma once

#include <cstdint>
#include <vector>

namespace moeasr::bench {

std::vector<float> synthetic_speech(double seconds, int sample_rate, uint32_t seed);

}  // namespace moeasr::bench
