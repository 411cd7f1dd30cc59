// The decode options of a golden file (tools/make_fixtures.py) for one of its
// modes: the file's beam, CTC and reverse weights, the mode's chunking.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/recognition.h"

namespace moeasr::test {

inline DecodeOptions golden_decode_options(const nlohmann::json& golden, const nlohmann::json& mode) {
  DecodeOptions o;
  o.chunk_size = mode["chunk_size"].get<int>();
  o.num_left_chunks = mode["num_left_chunks"].get<int>();
  o.nbest = golden["beam_size"].get<int>();
  o.ctc_weight = golden["ctc_weight"].get<float>();
  o.reverse_weight = golden["reverse_weight"].get<float>();
  return o;
}

}  // namespace moeasr::test
