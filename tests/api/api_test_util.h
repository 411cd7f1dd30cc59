// Shared helpers of the C API tests: decoded results as plain values.
#pragma once

#include <string>
#include <vector>

#include "moeasr/moeasr.h"

namespace moeasr::test {

struct Decoded {
  std::string text;
  std::vector<double> scores;  // every n-best entry's score, best first
};

inline Decoded take_final(moeasr_stream* s) {
  Decoded d;
  moeasr_result* r = nullptr;
  if (moeasr_stream_get_final_result(s, &r) != MOEASR_OK) {
    d.text = std::string("<error: ") + moeasr_last_error() + ">";
    return d;
  }
  d.text = r->text;
  for (size_t i = 0; i < r->num_nbest; ++i) d.scores.push_back(r->nbest[i].score);
  moeasr_result_free(r);
  return d;
}

// One utterance through one stream, in pieces of `piece` samples.
inline Decoded decode_alone(const moeasr_model* model, const moeasr_stream_options& opts,
                            const std::vector<float>& audio, size_t piece) {
  moeasr_stream* s = nullptr;
  if (moeasr_stream_create(model, &opts, &s) != MOEASR_OK) return {std::string("<error: ") + moeasr_last_error() + ">", {}};
  for (size_t pos = 0; pos < audio.size(); pos += piece) {
    moeasr_stream_accept_waveform(s, audio.data() + pos, std::min(piece, audio.size() - pos), 16000);
    moeasr_stream_decode(s);
  }
  moeasr_stream_input_finished(s);
  moeasr_stream_decode(s);
  Decoded d = take_final(s);
  moeasr_stream_free(s);
  return d;
}

}  // namespace moeasr::test
