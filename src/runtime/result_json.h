// The JSON form of a recognition result, one implementation for the C API
// (moeasr_stream_get_*_result_json) and moeasr-decode, so both name every
// field the same way:
//   {"text", "tokens", "timestamps_ms", "words": [{"text", "start_ms", "end_ms"}], "is_final",
//    "nbest": [{"text", "tokens", "timestamps_ms", "ctc_score", "score"
//               [, "attention_score" when rescored]}]}
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/recognition.h"

namespace moeasr {

nlohmann::json to_json(const Hypothesis& h);
nlohmann::json to_json(const RecognitionResult& r);

}  // namespace moeasr
