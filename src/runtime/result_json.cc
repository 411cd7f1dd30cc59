#include "runtime/result_json.h"

namespace moeasr {

nlohmann::json to_json(const Hypothesis& h) {
  nlohmann::json j = {{"text", h.text},
                      {"tokens", h.tokens},
                      {"timestamps_ms", h.timestamps_ms},
                      {"ctc_score", h.ctc_score},
                      {"score", h.score}};
  if (h.rescored) j["attention_score"] = h.attention_score;
  return j;
}

nlohmann::json to_json(const RecognitionResult& r) {
  nlohmann::json nbest = nlohmann::json::array();
  for (const Hypothesis& h : r.nbest) nbest.push_back(to_json(h));
  nlohmann::json words = nlohmann::json::array();
  for (const WordTiming& w : r.words) words.push_back({{"text", w.text}, {"start_ms", w.start_ms}, {"end_ms", w.end_ms}});
  return {{"text", r.text},
          {"tokens", r.tokens},
          {"timestamps_ms", r.timestamps_ms},
          {"words", words},
          {"is_final", r.is_final},
          {"nbest", nbest}};
}

}  // namespace moeasr
